// Refreshes answered per hour over the last day as a small inline SVG bar chart (ok stacked
// under failed), with a text summary for screen readers; no script, no library. The SVG draws
// only the bars and stretches to the box's width; its labels are HTML text beside it, so they
// keep the page's font size on a phone (inside the SVG they scaled with it, to ~5 px at 375 px).
import type { RefreshCount } from '../state/store.ts';
import { esc } from './html.ts';

const HOURS = 24;
const W = 720;
const H = 120;
/** Hours between two time labels: 24 / 6 = 4 labels, one per column of the grid under the bars. */
const TICK_EVERY = 6;

export function refreshChart(counts: RefreshCount[], now: number): string {
  const last = now - (now % 3600);
  const hours = Array.from({ length: HOURS }, (_, i) => last - (HOURS - 1 - i) * 3600);
  const per = hours.map((h) => counts.filter((c) => c.hour === h).reduce((a, c) => ({ ok: a.ok + c.ok, failed: a.failed + c.failed }), { ok: 0, failed: 0 }));
  const max = Math.max(1, ...per.map((p) => p.ok + p.failed));
  const bw = W / HOURS;
  const y = (n: number) => (H * n) / max;
  const hh = (i: number) => new Date(hours[i]! * 1000).toISOString().slice(11, 16);
  const bars = per.map((p, i) => {
    const x = i * bw + 1;
    const okH = y(p.ok);
    const badH = y(p.failed);
    const label = `${hh(i)}Z: ${p.ok} ok, ${p.failed} failed`;
    return `<g><title>${esc(label)}</title><rect x="${x.toFixed(1)}" y="${(H - okH).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${okH.toFixed(1)}" fill="#2f6f3e"/>` +
      `<rect x="${x.toFixed(1)}" y="${(H - okH - badH).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${badH.toFixed(1)}" fill="#b42318"/></g>`;
  });
  const ticks = Array.from({ length: HOURS / TICK_EVERY }, (_, k) => `<span>${hh(k * TICK_EVERY)}</span>`);
  const total = per.reduce((a, p) => ({ ok: a.ok + p.ok, failed: a.failed + p.failed }), { ok: 0, failed: 0 });
  const summary = `Refreshes in the last ${HOURS} hours: ${total.ok} answered, ${total.failed} refused (green: answered, red: refused; tallest bar ${max}).`;
  // The labels repeat what the caption says in words, so they are hidden from screen readers.
  return `<figure><p class="chart-max" aria-hidden="true">${max} per hour</p>` +
    `<svg role="img" aria-labelledby="chart-desc" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">` +
    `${bars.join('')}<line x1="0" y1="${H}" x2="${W}" y2="${H}" stroke="#555" stroke-width="2" vector-effect="non-scaling-stroke"/></svg>` +
    `<div class="chart-ticks" aria-hidden="true">${ticks.join('')}</div>` +
    `<figcaption id="chart-desc">${esc(summary)}</figcaption></figure>`;
}
