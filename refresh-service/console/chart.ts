// Refreshes answered per hour over the last day as a small inline SVG bar chart (ok stacked
// under failed), with a text summary for screen readers; no script, no library.
import type { RefreshCount } from '../state/store.ts';
import { esc } from './html.ts';

const HOURS = 24;
const W = 720;
const H = 140;
const PAD = 24;

export function refreshChart(counts: RefreshCount[], now: number): string {
  const last = now - (now % 3600);
  const hours = Array.from({ length: HOURS }, (_, i) => last - (HOURS - 1 - i) * 3600);
  const per = hours.map((h) => counts.filter((c) => c.hour === h).reduce((a, c) => ({ ok: a.ok + c.ok, failed: a.failed + c.failed }), { ok: 0, failed: 0 }));
  const max = Math.max(1, ...per.map((p) => p.ok + p.failed));
  const bw = (W - PAD) / HOURS;
  const y = (n: number) => ((H - PAD) * n) / max;
  const bars = per.map((p, i) => {
    const x = PAD + i * bw;
    const okH = y(p.ok);
    const badH = y(p.failed);
    const label = `${new Date(hours[i]! * 1000).toISOString().slice(11, 16)}Z: ${p.ok} ok, ${p.failed} failed`;
    return `<g><title>${esc(label)}</title><rect x="${x.toFixed(1)}" y="${(H - PAD - okH).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${okH.toFixed(1)}" fill="#2f6f3e"/>` +
      `<rect x="${x.toFixed(1)}" y="${(H - PAD - okH - badH).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${badH.toFixed(1)}" fill="#b42318"/></g>`;
  });
  const ticks = [0, 6, 12, 18].map((i) => `<text x="${(PAD + i * bw).toFixed(1)}" y="${H - 6}">${new Date(hours[i]! * 1000).toISOString().slice(11, 16)}</text>`);
  const total = per.reduce((a, p) => ({ ok: a.ok + p.ok, failed: a.failed + p.failed }), { ok: 0, failed: 0 });
  const summary = `Refreshes in the last ${HOURS} hours: ${total.ok} answered, ${total.failed} refused (green: answered, red: refused; tallest bar ${max}).`;
  return `<figure><svg role="img" aria-labelledby="chart-desc" viewBox="0 0 ${W} ${H}" width="100%">` +
    `<line x1="${PAD}" y1="${H - PAD}" x2="${W}" y2="${H - PAD}" stroke="#555"/><text x="0" y="12">${max}</text>${bars.join('')}${ticks.join('')}</svg>` +
    `<figcaption id="chart-desc">${esc(summary)}</figcaption></figure>`;
}
