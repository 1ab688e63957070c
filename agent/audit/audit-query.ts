// `glidein audit`'s query (issue 25): the records of an audit file (or a syslog file that holds
// them) joined into job runs (a start and its end share `run`), then filtered. "Which identity
// owned pid 4711 at 14:02?": a run whose session leader was 4711 and whose span holds 14:02; for
// a process still alive, also the run whose cgroup or job marker it carries, or whose session it
// is in (a child of the payload has its own pid, not the leader's).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseAuditLine, sha256Hex, type AuditRecord } from './audit-record.ts';
import { readLiveProcess, type LiveProcess } from './live-process.ts';

/** One job run: its start and end records merged, the start's time and the end's. */
export interface AuditRun extends Omit<AuditRecord, 'event' | 'time'> {
  startedAt: string | null;
  endedAt: string | null;
}

export interface AuditQuery {
  uid?: number;
  account?: string;
  sub?: string;
  job?: string;
  pid?: number;
  /** Unix ms: with pid, the run that held it then; alone, the runs going on then. */
  at?: number;
  since?: number;
  until?: number;
}

/** Every record of `path`, in file order; lines that are not records are skipped. */
export async function readAuditFile(path: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    const r = parseAuditLine(line);
    if (r) out.push(r);
  }
  return out;
}

/** Start and end records joined by `run`, in the order of their first record. */
export function joinRuns(records: readonly AuditRecord[]): AuditRun[] {
  const runs = new Map<string, { start?: AuditRecord; end?: AuditRecord }>();
  for (const r of records) {
    const key = typeof r.run === 'string' ? r.run : `${r.job} ${r.time}`;
    const entry = runs.get(key) ?? {};
    if (r.event === 'start') entry.start ??= r;
    else entry.end ??= r;
    runs.set(key, entry);
  }
  return [...runs.values()].map(({ start, end }) => {
    const { event: _e, time: _t, ...fields } = { ...start, ...end } as AuditRecord;
    return { ...fields, startedAt: start?.time ?? end?.startedAt ?? null, endedAt: end?.time ?? null };
  });
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

/** The run's span in unix ms: from its start (or its refusal) to its end, open while it runs. */
function span(r: AuditRun): [number, number] {
  const from = ms(r.startedAt ?? r.endedAt);
  const to = r.endedAt ? ms(r.endedAt) : Infinity;
  return [from, to];
}

/** Whether a live process belongs to the run: its cgroup, its job marker, or its session and start. */
function holdsLive(r: AuditRun, p: LiveProcess): boolean {
  if (r.cgroup && p.cgroups.some((c) => c !== '/' && r.cgroup!.endsWith(c))) return true;
  if (r.markSha256 && p.mark !== null && sha256Hex(p.mark).slice(0, 32) === r.markSha256) return true;
  const [from, to] = span(r);
  return r.pid !== null && r.pid !== undefined && (p.sid === r.pid || p.pid === r.pid) && p.startMs !== null && p.startMs >= from - 1000 && p.startMs <= to;
}

function matchesPid(r: AuditRun, q: AuditQuery, live: LiveProcess | null): boolean {
  if (q.pid === undefined) return true;
  // A process alive now answers for a past --at only if it already lived then (pids are reused).
  const liveThen = live !== null && (q.at === undefined || (live.startMs !== null && live.startMs <= q.at));
  if (liveThen && holdsLive(r, live)) return true;
  if (r.pid !== q.pid) return false;
  if (q.at === undefined) return true;
  const [from, to] = span(r);
  return q.at >= from && q.at <= to;
}

/** The runs that match every filter given. */
export function filterRuns(runs: readonly AuditRun[], q: AuditQuery, live: LiveProcess | null = null): AuditRun[] {
  return runs.filter((r) => {
    if (q.uid !== undefined && r.uid !== q.uid) return false;
    if (q.account !== undefined && r.account !== q.account) return false;
    if (q.sub !== undefined && r.sub !== q.sub) return false;
    if (q.job !== undefined && r.job !== q.job) return false;
    if (!matchesPid(r, q, live)) return false;
    const [from, to] = span(r);
    if (q.pid === undefined && q.at !== undefined && !(q.at >= from && q.at <= to)) return false;
    if (q.since !== undefined && to < q.since) return false;
    if (q.until !== undefined && from > q.until) return false;
    return true;
  });
}

/** Run the query on `path`; with --pid, a process alive now is looked at too. */
export async function queryAuditFile(path: string, q: AuditQuery): Promise<AuditRun[]> {
  const live = q.pid !== undefined ? readLiveProcess(q.pid) : null;
  return filterRuns(joinRuns(await readAuditFile(path)), q, live);
}
