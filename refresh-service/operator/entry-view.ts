// Per entry, what `refresh-service entries`, GET /v1/entries and the console show: pilots by
// status, validation failures and revocations in the last hour and day, the refresh success
// ratio over the last day, the most common failure category and node, and black holes.
//
// Black-hole rule: over the last day (validation reports received in the last 24 h), an entry
// (or a node within it) is a black hole when at least BLACK_HOLE_MIN_FAILURES of its pilots
// failed validation AND they are at least BLACK_HOLE_RATIO of its pilots that reported a
// validation. Few failures among many good pilots is noise; a node that fails every pilot sent
// to it is a black hole even where its entry is healthy.
import type { RefreshCount } from '../state/store.ts';
import { PILOT_STATUSES, type PilotStatus, type PilotView } from './pilot-view.ts';

export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const BLACK_HOLE_MIN_FAILURES = 3;
export const BLACK_HOLE_RATIO = 0.5;

export interface EntryView {
  entry: string;
  pilots: Record<PilotStatus, number>;
  failed_validation: { hour: number; day: number };
  revoked: { hour: number; day: number };
  refreshes: { ok: number; failed: number; success_ratio: number | null };
  top_failure: string | null;
  top_failure_node: string | null;
  black_hole: boolean;
  black_hole_nodes: string[];
}

/** Whether `failed` failures among `reported` validations make a black hole (see the rule above). */
export function isBlackHole(failed: number, reported: number): boolean {
  return failed >= BLACK_HOLE_MIN_FAILURES && failed >= reported * BLACK_HOLE_RATIO;
}

function mostCommon(values: (string | null)[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  for (const [v, n] of counts) if (best === null || n > counts.get(best)! || (n === counts.get(best)! && v < best)) best = v;
  return best;
}

function blackHoleNodes(reported: PilotView[]): string[] {
  const byNode = new Map<string, { failed: number; reported: number }>();
  for (const p of reported) {
    if (p.node === null) continue;
    const n = byNode.get(p.node) ?? { failed: 0, reported: 0 };
    n.reported++;
    if (p.validation === 'ERROR') n.failed++;
    byNode.set(p.node, n);
  }
  return [...byNode].filter(([, n]) => isBlackHole(n.failed, n.reported)).map(([node]) => node).sort();
}

function oneEntry(entry: string, pilots: PilotView[], counts: RefreshCount[], now: number): EntryView {
  const within = (t: number | null, s: number) => t !== null && t >= now - s;
  const reported = pilots.filter((p) => p.validation !== null && within(p.validated_at, DAY));
  const failed = reported.filter((p) => p.validation === 'ERROR');
  const ok = counts.reduce((n, c) => n + c.ok, 0);
  const bad = counts.reduce((n, c) => n + c.failed, 0);
  const byStatus = Object.fromEntries(PILOT_STATUSES.map((s) => [s, pilots.filter((p) => p.status === s).length])) as Record<PilotStatus, number>;
  return {
    entry,
    pilots: byStatus,
    failed_validation: { hour: failed.filter((p) => within(p.validated_at, HOUR)).length, day: failed.length },
    revoked: { hour: pilots.filter((p) => within(p.revoked_at, HOUR)).length, day: pilots.filter((p) => within(p.revoked_at, DAY)).length },
    refreshes: { ok, failed: bad, success_ratio: ok + bad === 0 ? null : Math.round((ok / (ok + bad)) * 1000) / 1000 },
    top_failure: mostCommon(failed.map((p) => p.failure)),
    top_failure_node: mostCommon(failed.map((p) => p.node)),
    black_hole: isBlackHole(failed.length, reported.length),
    black_hole_nodes: blackHoleNodes(reported),
  };
}

/** One row per entry that has pilots or refresh counts in the last day, sorted by entry. */
export function entryViews(pilots: PilotView[], counts: RefreshCount[], now: number): EntryView[] {
  const recent = counts.filter((c) => c.hour >= now - DAY);
  const names = [...new Set([...pilots.map((p) => p.entry), ...recent.map((c) => c.entry)])].sort();
  return names.map((e) => oneEntry(e, pilots.filter((p) => p.entry === e), recent.filter((c) => c.entry === e), now));
}
