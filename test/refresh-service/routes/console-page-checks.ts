// What the console's browser test checks on every page it opens: axe-core's rules (the
// package's own axe.min.js, evaluated in the page through the DevTools protocol, which the
// console's no-script Content-Security-Policy does not govern), the page's width against the
// viewport (WCAG 1.4.10 reflow), where each table scrolls, and the chart's text size.
// The page's code is given as strings: DOM types are not in this project's lib.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core's violations on the page as it is now (all of axe's default rules). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  return (await page.evaluate(`axe.run(document).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  })))`)) as AxeViolation[];
}

export interface Layout {
  /** document.documentElement.scrollWidth: wider than the viewport means the whole page scrolls sideways. */
  pageWidth: number;
  viewport: number;
  /** Each table: its header cells, and whether it sits in a box of its own that scrolls. */
  tables: { caption: string; headers: string[]; wide: boolean; inScrollBox: boolean }[];
  /** The smallest rendered font size (CSS px, after the SVG's scaling) of any text in the chart. */
  chartMinFontPx: number | null;
}

export async function layout(page: Page): Promise<Layout> {
  return (await page.evaluate(`(() => {
    const scrollBox = (t) => {
      for (let e = t.parentElement; e && e !== document.body; e = e.parentElement) {
        const o = getComputedStyle(e).overflowX;
        if (o === 'auto' || o === 'scroll') return true;
      }
      return false;
    };
    const tables = [...document.querySelectorAll('table')].map((t) => ({
      caption: t.caption ? t.caption.textContent : '',
      headers: [...t.querySelectorAll('thead th')].map((h) => h.textContent),
      wide: t.scrollWidth > document.documentElement.clientWidth,
      inScrollBox: scrollBox(t),
    }));
    const texts = [...document.querySelectorAll('figure *')].filter((e) =>
      [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '') && e.getClientRects().length > 0 && e.closest('title') === null);
    const sizes = texts.map((e) => parseFloat(getComputedStyle(e).fontSize) * (e instanceof SVGGraphicsElement ? e.getScreenCTM().a : 1));
    return {
      pageWidth: document.documentElement.scrollWidth,
      viewport: document.documentElement.clientWidth,
      tables,
      chartMinFontPx: sizes.length === 0 ? null : Math.min(...sizes),
    };
  })()`)) as Layout;
}
