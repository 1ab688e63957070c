// The console's overview and entries pages: pilots by status and entry, refreshes per hour,
// recent security events and revocations; the entries table with black-hole flags.
import type { EntryView } from '../operator/entry-view.ts';
import { PILOT_STATUSES, type PilotView } from '../operator/pilot-view.ts';
import type { RefreshCount } from '../state/store.ts';
import type { SecurityEventNote } from '../metrics.ts';
import { refreshChart } from './chart.ts';
import { esc, page, scrollBox, table, time } from './html.ts';

const pilotLink = (id: string) => `<a href="/console/pilot/${encodeURIComponent(id)}">${esc(id)}</a>`;
const entryLink = (entry: string, status?: string) =>
  `/console/pilots?entry=${encodeURIComponent(entry)}${status === undefined ? '' : `&amp;status=${status}`}`;

export function blackHoleCell(e: EntryView): string {
  const parts = [e.black_hole ? 'entry' : '', ...e.black_hole_nodes.map(esc)].filter((s) => s !== '');
  return parts.length === 0 ? 'no' : `<span class="bad">BLACK HOLE: ${parts.join(', ')}</span>`;
}

export function overviewPage(entries: EntryView[], pilots: PilotView[], counts: RefreshCount[], events: SecurityEventNote[], now: number): string {
  const byStatus = PILOT_STATUSES.map((s) => `<td>${pilots.filter((p) => p.status === s).length}</td>`).join('');
  const totals = scrollBox('Pilots by status', `<table><caption>Pilots by status</caption><thead><tr>${PILOT_STATUSES.map((s) => `<th scope="col">${s}</th>`).join('')}</tr></thead><tbody><tr>${byStatus}</tr></tbody></table>`);
  // The entry and its black-hole flag first: on a phone they are what fits before the box scrolls.
  const perEntry = table('Pilots by entry and status', ['Entry', 'Black hole', ...PILOT_STATUSES], entries.map((e) => [
    `<a href="${entryLink(e.entry)}">${esc(e.entry)}</a>`,
    blackHoleCell(e),
    ...PILOT_STATUSES.map((s) => (e.pilots[s] === 0 ? '0' : `<a href="${entryLink(e.entry, s)}">${e.pilots[s]}</a>`)),
  ]), 'no pilots registered');
  const revoked = pilots.filter((p) => p.revoked_at !== null && p.revoked_at >= now - 86400).sort((a, b) => b.revoked_at! - a.revoked_at!).slice(0, 20);
  const security = table('Security events (latest first, since the service started)', ['Time', 'Event', 'Glidein'], events.map((e) => [time(e.at), esc(e.message), e.glideinId ? pilotLink(e.glideinId) : '–']), 'none since start');
  const revocations = table('Revocations in the last day', ['Time', 'Glidein', 'Entry', 'Reason'], revoked.map((p) => [time(p.revoked_at), pilotLink(p.glidein_id), esc(p.entry), esc(p.revoked_reason)]));
  return page('Overview', `${totals}${perEntry}<h2>Refreshes</h2>${refreshChart(counts, now)}<h2>Security</h2>${security}${revocations}`);
}

export function entriesPage(entries: EntryView[]): string {
  const rows = entries.map((e) => [
    `<a href="${entryLink(e.entry)}">${esc(e.entry)}</a>`,
    blackHoleCell(e),
    String(e.pilots.live + e.pilots.draining),
    `${e.failed_validation.hour} / ${e.failed_validation.day}`,
    `${e.revoked.hour} / ${e.revoked.day}`,
    e.refreshes.success_ratio === null ? '–' : `${(e.refreshes.success_ratio * 100).toFixed(1)}% of ${e.refreshes.ok + e.refreshes.failed}`,
    esc(e.top_failure ?? '–'),
    esc(e.top_failure_node ?? '–'),
  ]);
  const rule = '<p>Black hole: over the last day at least 3 pilots of the entry (or node) failed validation, and they are at least half of those that reported one.</p>';
  return page('Entries', rule + table('Entries', ['Entry', 'Black hole', 'Live', 'Failed validation 1 h / 1 d', 'Revoked 1 h / 1 d', 'Refresh success (1 d)', 'Top failure', 'Top failure node'], rows, 'no entries'));
}
