// The site's audit record (issue 25; README "Site audit records", docs/formats.md): one line per
// identity switch (`start`) and per job end (`end`, also for a job refused before it started),
// `glidein-audit: ` then one JSON object, the same text in the audit file and in syslog, so that
// `glidein audit` reads either. Never a token: the identity token only as its SHA-256 and jti;
// every string is bounded and scrubbed of anything token-shaped (shared/redact.ts).
import { createHash } from 'node:crypto';
import { redactText } from '../../shared/redact.ts';

export const AUDIT_PREFIX = 'glidein-audit: ';
/** syslog tag (APP-NAME): `… glidein-audit: {…}` in a syslog file, the prefix above. */
export const AUDIT_TAG = 'glidein-audit';

/** Where a job came from. */
export type AuditSource = 'exec' | 'spool' | 'condor' | 'command' | 'validate';

/** Why a job ended, for the site (the result's state and kill reason in one word). */
export type AuditWhy = 'completed' | 'failed' | 'held' | 'wallclock' | 'credential-expired' | 'drain' | 'vacate' | 'cancelled' | 'launch-failed';

export interface AuditPilot {
  glideinId: string;
  entry: string;
  /** The factory's refresh service (origin of the bundle's refresh_url). */
  factory: string | null;
  /** The batch system's id of the pilot job (`slurm:123`, `condor:1.0`, …), when it tells one. */
  batchJob: string | null;
}

export interface AuditRecord {
  v: 1;
  event: 'start' | 'end';
  /** ISO 8601 time of writing. */
  time: string;
  /** Random per job run: ties a start to its end. */
  run: string;
  job: string;
  source: AuditSource;
  node: string;
  pilot: AuditPilot | null;
  /** HTCondor mode: the job's GlobalJobId and ClusterId.ProcId. */
  condor?: { globalJobId: string | null; clusterProc: string | null };
  /** The identity: verified (true), or only claimed by an unverifiable token (false). */
  iss: string | null;
  sub: string | null;
  verified: boolean;
  groups?: string[];
  entitlements?: string[];
  /** The mapfile line that decided the account. */
  mapfile?: string | null;
  mapLine?: number | null;
  mapRule?: string | null;
  tokenSha256: string | null;
  jti: string | null;
  mode: string;
  account: string | null;
  uid: number | null;
  /** The job's session leader (the payload after exec, or the helper) and its start time. */
  pid?: number | null;
  pidStart?: string | null;
  cgroup?: string | null;
  /** SHA-256 (first 32 hex) of the job's process marker (GLIDEIN_JOB_MARK in its processes). */
  markSha256?: string | null;
  executable?: string | null;
  image?: string | null;
  // end only
  startedAt?: string | null;
  state?: string;
  why?: AuditWhy;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string | null;
  durationMs?: number;
  cpuSeconds?: number | null;
  peakMemoryBytes?: number | null;
}

const MAX_STRING = 300;
const MAX_LIST = 16;

/** SHA-256 hex of a secret: the record's way of naming a token without holding it. */
export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function bounded(v: unknown): unknown {
  if (typeof v === 'string') return redactText(v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v);
  if (Array.isArray(v)) return v.slice(0, MAX_LIST).map(bounded);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, bounded(x)]));
  return v;
}

/** The record's line (no newline), bounded and scrubbed. */
export function formatAuditLine(r: AuditRecord): string {
  return AUDIT_PREFIX + JSON.stringify(bounded(r)).replace(/[\r\n]/g, ' ');
}

/** A record from a line of the audit file or of a syslog file (`… glidein-audit[: |[pid]: ]{…}`); null if none. */
export function parseAuditLine(line: string): AuditRecord | null {
  const m = /glidein-audit(?:\[\d+\])?: (\{.*\})\s*$/.exec(line);
  if (!m) return null;
  try {
    const r = JSON.parse(m[1]!) as AuditRecord;
    return r && r.v === 1 && (r.event === 'start' || r.event === 'end') && typeof r.time === 'string' && typeof r.job === 'string' ? r : null;
  } catch {
    return null;
  }
}
