// The console's HTML: escaping, one page layout with a small inline stylesheet (allowed by its
// hash in the Content-Security-Policy: no script, no external resource), and tables, each in a
// box of its own that scrolls sideways on a narrow screen.
import { createHash } from 'node:crypto';

export function esc(s: string | number | null | undefined): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root{color-scheme:light;font:15px/1.45 system-ui,sans-serif;color:#111;background:#fff}
body{margin:0 auto;max-width:72rem;padding:0 1rem 2rem;overflow-wrap:anywhere}
header{display:flex;gap:.25rem 1.5rem;align-items:center;border-bottom:2px solid #123;padding:.5rem 0;margin-bottom:1rem;flex-wrap:wrap}
header strong{font-size:1.1rem}nav a{margin-right:1rem;display:inline-block;padding:.25rem 0}
a{color:#0b4f9c}a:focus,button:focus,input:focus,select:focus,.scroll:focus{outline:3px solid #e07b00;outline-offset:2px}
input,select{font:inherit;max-width:100%;box-sizing:border-box}input.wide{width:32rem}
.scroll{overflow-x:auto;margin:.5rem 0 1.5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;overflow-wrap:normal}
th,td{border:1px solid #8a8f98;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#e8ecf2}td{background:#fff}caption{text-align:left;font-weight:600;padding:.25rem 0}
.scroll th:first-child,.scroll td:first-child{position:sticky;left:0;white-space:nowrap}
.bad{background:#fde2e1;color:#7a0b0b;font-weight:600}.ok{color:#0b5d1e}
form.inline{display:inline}label{margin-right:.25rem}
button{font:inherit;padding:.25rem .75rem;border:1px solid #123;background:#f3f5f8;border-radius:3px;cursor:pointer}
button.danger{background:#9b1c1c;color:#fff;border-color:#6d1010}
.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:end;margin:.5rem 0}
.filters div{display:flex;flex-direction:column;max-width:100%}
figure{margin:0;max-width:720px}figure svg{display:block;width:100%;height:8rem}
.chart-max,.chart-ticks{font-size:.8rem;margin:0}.chart-ticks{display:grid;grid-template-columns:repeat(4,1fr)}
`;

export const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

export const SECURITY_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin', // no-referrer would make Chromium send Origin: null on our own form posts
  'x-frame-options': 'DENY',
};

/** A whole page; `nav` false for the login page. */
export function page(title: string, body: string, nav = true): string {
  const links = nav
    ? `<nav aria-label="Console"><a href="/console">Overview</a><a href="/console/entries">Entries</a><a href="/console/pilots">Pilots</a></nav>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<title>${esc(title)} · glidein refresh service</title><style>${CSS}</style></head>
<body><header><strong>glidein refresh service</strong>${links}</header><main><h1>${esc(title)}</h1>
${body}</main></body></html>`;
}

/** A table: header cells, and rows of cells already escaped (HTML). */
export function table(caption: string, header: string[], rows: string[][], empty = 'None.'): string {
  if (rows.length === 0) return `<p>${esc(caption)}: ${esc(empty)}</p>`;
  const head = header.map((h) => `<th scope="col">${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return scrollBox(caption, `<table><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`);
}

/**
 * A table in a box of its own that scrolls sideways when the table is wider than the screen,
 * so the page itself reflows at 320 CSS px (WCAG 1.4.10); focusable, so a keyboard can scroll it.
 */
export function scrollBox(label: string, tableHtml: string): string {
  return `<div class="scroll" role="region" aria-label="${esc(label)}" tabindex="0">${tableHtml}</div>`;
}

/** Unix seconds as a UTC time for people. */
export function time(t: number | null): string {
  return t === null ? '–' : esc(new Date(t * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z'));
}
