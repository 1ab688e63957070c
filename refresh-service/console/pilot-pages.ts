// The console's pilot pages: the pilots table with search and filters (a GET form: works without
// script, shareable URLs), one pilot's timeline and validation report, the revoke confirmation,
// and the login form.
import { PILOT_STATUSES, type PilotQuery, type PilotView } from '../operator/pilot-view.ts';
import type { ValidationSummary } from '../operator/validation-summary.ts';
import { esc, page, table, time } from './html.ts';

const MAX_ROWS = 500;

function filters(q: PilotQuery, entries: string[]): string {
  const opt = (v: string, cur: string | undefined, label = v) => `<option value="${esc(v)}"${v === (cur ?? '') ? ' selected' : ''}>${esc(label)}</option>`;
  return `<form class="filters" method="get" action="/console/pilots" role="search">
<div><label for="q">Search (id, entry, node)</label><input id="q" name="q" value="${esc(q.search)}"></div>
<div><label for="entry">Entry</label><select id="entry" name="entry">${opt('', q.entry, 'all')}${entries.map((e) => opt(e, q.entry)).join('')}</select></div>
<div><label for="status">Status</label><select id="status" name="status">${opt('', q.status, 'all')}${PILOT_STATUSES.map((s) => opt(s, q.status)).join('')}</select></div>
<div><button type="submit">Filter</button></div></form>`;
}

export function pilotsPage(pilots: PilotView[], q: PilotQuery, entries: string[]): string {
  const rows = pilots.slice(0, MAX_ROWS).map((p) => [
    `<a href="/console/pilot/${encodeURIComponent(p.glidein_id)}">${esc(p.glidein_id)}</a>`, esc(p.entry), esc(p.status),
    p.validation === 'ERROR' ? `<span class="bad">ERROR ${esc(p.failed_check)} (${esc(p.failure)})</span>` : esc(p.validation ?? '–'),
    p.bound ? 'yes' : 'no', time(p.last_refresh), time(p.last_heartbeat), esc(p.pilot_state ?? '–'),
    esc(p.node ?? '–'), esc(p.revoked_reason ?? '–'),
  ]);
  const more = pilots.length > MAX_ROWS ? `<p>Showing ${MAX_ROWS} of ${pilots.length}; narrow the filters.</p>` : '';
  return page('Pilots', filters(q, entries) + table(`Pilots (${pilots.length})`, ['Glidein', 'Entry', 'Status', 'Validation', 'Bound', 'Last refresh', 'Last heartbeat', 'State', 'Node', 'Revoked'], rows, 'no pilot matches') + more);
}

/** Registration, binding, each refresh kept (the last day's), validation, last report, revocation, end. */
function timeline(p: PilotView, refreshes: number[]): string[][] {
  const events: [number | null, string][] = [
    [p.registered, 'registered'], [p.bound_at, 'bound to its DPoP key (first refresh)'],
    ...refreshes.map((t): [number, string] => [t, 'refresh answered']),
    [p.validated_at, `validation ${p.validation ?? ''}`], [p.last_heartbeat, `last status report (${p.pilot_state ?? 'unknown state'})`],
    [p.revoked_at, `revoked: ${p.revoked_reason ?? ''}`], [p.expires_at, 'family lifetime ends'],
  ];
  return events.filter(([t]) => t !== null).sort((a, b) => a[0]! - b[0]!).map(([t, what]) => [time(t), esc(what)]);
}

export function pilotPage(p: PilotView, validation: ValidationSummary | undefined, refreshes: number[], csrf: string, confirm: boolean): string {
  const id = encodeURIComponent(p.glidein_id);
  const facts = table('Pilot', ['Entry', 'Status', 'Node', 'Bound'], [[esc(p.entry), esc(p.status), esc(p.node ?? '–'), p.bound ? 'yes' : 'no']]);
  const checks = validation
    ? table(`Validation report: ${validation.status}`, ['Check', 'Status', 'Failure category', 'Detail'], validation.checks.map((c) => [esc(c.name), c.status === 'fail' ? `<span class="bad">fail</span>` : esc(c.status), esc(c.failure ?? '–'), esc(c.detail)]))
    : '<p>No validation report received.</p>';
  let revoke = '';
  if (p.revoked_at === null && confirm) {
    revoke = `<section aria-labelledby="confirm-h"><h2 id="confirm-h">Revoke ${esc(p.glidein_id)}?</h2><p>Its next refresh will be refused and it cannot get credentials again. This cannot be undone.</p>
<form method="post" action="/console/revoke" class="inline"><input type="hidden" name="csrf" value="${esc(csrf)}"><input type="hidden" name="glidein_id" value="${esc(p.glidein_id)}"><input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger">Yes, revoke ${esc(p.glidein_id)}</button></form> <a href="/console/pilot/${id}">Cancel</a></section>`;
  } else if (p.revoked_at === null) {
    revoke = `<form method="get" action="/console/pilot/${id}"><input type="hidden" name="confirm" value="revoke"><button type="submit" class="danger">Revoke…</button></form>`;
  }
  return page(`Pilot ${p.glidein_id}`, facts + table('Timeline', ['Time (UTC)', 'Event'], timeline(p, refreshes)) + checks + revoke);
}

export function loginPage(error?: string): string {
  const err = error === undefined ? '' : `<p class="bad" role="alert">${esc(error)}</p>`;
  return page('Sign in', `${err}<form method="post" action="/console/login"><p><label for="token">Admin token (the contents of &lt;state&gt;/admin.token)</label><br>
<input id="token" name="token" type="password" autocomplete="off" required class="wide"></p><p><button type="submit">Sign in</button></p></form>`, false);
}
