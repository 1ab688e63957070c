// One pilot as `refresh-service pilots`, GET /v1/pilots and the console show it: the family's
// record joined with its last status report and validation summary, and one derived status:
//   revoked  the family is revoked (revoked reason given);
//   expired  past its lifetime;
//   ended    its last report says the pilot exited;
//   silent   bound, and nothing heard (report, or else the binding) for SILENT_AFTER_S seconds
//            (three of the pilot's default 300 s heartbeats);
//   draining its last report says draining or retiring;
//   live     anything else (registered and not yet started included: bound says which).
import type { PilotRecord } from '../state/store.ts';
import { parseSummary, type ValidationSummary } from './validation-summary.ts';

export const PILOT_STATUSES = ['live', 'draining', 'ended', 'revoked', 'expired', 'silent'] as const;
export type PilotStatus = (typeof PILOT_STATUSES)[number];

export const SILENT_AFTER_S = 900;

export interface PilotView {
  glidein_id: string;
  entry: string;
  status: PilotStatus;
  registered: number;
  bound: boolean;
  bound_at: number | null;
  last_refresh: number | null;
  last_heartbeat: number | null;
  /** The pilot's own state from its last report (starting, running, draining, exited, ...). */
  pilot_state: string | null;
  validation: 'OK' | 'ERROR' | null;
  failed_check: string | null;
  failure: string | null;
  node: string | null;
  validated_at: number | null;
  revoked_at: number | null;
  revoked_reason: string | null;
  expires_at: number;
}

function reportState(report: string | null): string | null {
  if (report === null) return null;
  try {
    const state = (JSON.parse(report) as { state?: unknown }).state;
    return typeof state === 'string' ? state.slice(0, 40) : null;
  } catch {
    return null;
  }
}

function statusOf(p: PilotRecord, state: string | null, now: number): PilotStatus {
  if (p.revokedAt !== null) return 'revoked';
  if (p.expiresAt <= now) return 'expired';
  if (state === 'exited') return 'ended';
  if (p.jkt !== null && (p.statusAt ?? p.boundAt ?? p.createdAt) < now - SILENT_AFTER_S) return 'silent';
  if (state === 'draining' || state === 'retiring') return 'draining';
  return 'live';
}

export function pilotView(p: PilotRecord, now: number): PilotView {
  const state = reportState(p.statusReport);
  const v: ValidationSummary | undefined = parseSummary(p.validation);
  return {
    glidein_id: p.glideinId,
    entry: p.entry,
    status: statusOf(p, state, now),
    registered: p.createdAt,
    bound: p.jkt !== null,
    bound_at: p.boundAt,
    last_refresh: p.lastRefreshAt,
    last_heartbeat: p.statusAt,
    pilot_state: state,
    validation: v?.status ?? null,
    failed_check: v?.failedCheck ?? null,
    failure: v?.failure ?? null,
    node: v?.node ?? null,
    validated_at: p.validatedAt,
    revoked_at: p.revokedAt,
    revoked_reason: p.revokeReason,
    expires_at: p.expiresAt,
  };
}

export interface PilotQuery {
  entry?: string;
  status?: PilotStatus;
  /** A substring of the glidein id, entry or node (the console's search box). */
  search?: string;
}

export function isPilotStatus(s: unknown): s is PilotStatus {
  return typeof s === 'string' && (PILOT_STATUSES as readonly string[]).includes(s);
}

/** The pilots matching `q`, sorted by entry then glidein id. */
export function selectPilots(records: PilotRecord[], q: PilotQuery, now: number): PilotView[] {
  const needle = q.search?.toLowerCase();
  return records
    .map((r) => pilotView(r, now))
    .filter((p) => (q.status === undefined || p.status === q.status) && (q.entry === undefined || p.entry === q.entry))
    .filter((p) => needle === undefined || [p.glidein_id, p.entry, p.node ?? ''].some((f) => f.toLowerCase().includes(needle)))
    .sort((a, b) => (a.entry === b.entry ? cmp(a.glidein_id, b.glidein_id) : cmp(a.entry, b.entry)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
