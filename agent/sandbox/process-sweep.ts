// Finding every process of a job (DESIGN.md section 7.6): by session and process group (the
// wrapper is a session leader), their descendants, and every process of the job's account that
// carries the job's own marker in its environment (GLIDEIN_JOB_MARK, random per job), which
// catches setsid/nohup children that left the session and were re-parented. A uid-wide sweep
// would also kill other pilots' jobs that map to the same account on a shared node, so none is
// done. A payload that scrubs its environment AND leaves its session escapes this sweep: the
// job's cgroup (cgroup-job.ts) closes that where one can be made.
//
// Pids are reused (issue 11, item 9): the wrapper's pid is recorded with its start time, and a
// session or group id whose leader is now another process (same pid, other start time) matches
// nothing; a session member born before the wrapper cannot be the job's. Right before each
// signal the process's start time and uid are read again and must still be the ones selected.
// Node has no pidfd_send_signal, so a window of a few microseconds remains; the cgroup has none.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  uid: number;
  /** Start time in clock ticks since boot: tells a reused pid apart. */
  start: number;
  /** The state letter of /proc/<pid>/stat: R, S, D, … Z (zombie) or X (dead). */
  state: string;
}

/** True if the process has ended: a zombie (Z) or dead (X) entry only waits for its parent's wait(). */
export function hasEnded(p: Pick<ProcInfo, 'state'>): boolean {
  return p.state === 'Z' || p.state === 'X';
}

/** The fields of /proc/<pid>/stat after `comm` (which may hold spaces and parentheses): [0] is state, [1] ppid … */
function statFields(procRoot: string, pid: number | string): string[] {
  const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A snapshot of the process table from `procRoot` (a fixture tree in tests). */
export function readProcTable(procRoot = '/proc'): ProcInfo[] {
  const out: ProcInfo[] = [];
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(procRoot, name);
      const uid = statSync(join(procRoot, name)).uid;
      out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), uid, start: Number(fields[19]), state: fields[0] ?? '' });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

export const JOB_MARK_VARIABLE = 'GLIDEIN_JOB_MARK';

export interface JobSelector {
  /** Sessions and process groups the job started (the wrapper's pid). */
  sessions: ReadonlySet<number>;
  /** Start time (clock ticks since boot) of the process that led those sessions, when known. */
  leaderStart?: number | null;
  /** The job's marker (value of GLIDEIN_JOB_MARK in its processes' environment), or null. */
  mark: string | null;
  /** Only processes of this uid are checked for the marker (the job's account); null = any. */
  uid: number | null;
  /** Never touched: this agent and its ancestors. */
  exclude: ReadonlySet<number>;
}

/** True if process `pid` has `NAME=mark` in its environment (readable by root or its owner). */
export function hasJobMark(pid: number, mark: string, procRoot = '/proc'): boolean {
  try {
    const environ = readFileSync(join(procRoot, String(pid), 'environ'), 'latin1');
    return environ.split('\0').includes(`${JOB_MARK_VARIABLE}=${mark}`);
  } catch {
    return false;
  }
}

/** The recorded session ids still led by the recorded process (or by none): a reused id is dropped. */
function liveSessions(table: readonly ProcInfo[], sel: JobSelector): Set<number> {
  const out = new Set(sel.sessions);
  if (sel.leaderStart === undefined || sel.leaderStart === null) return out;
  for (const p of table) if (out.has(p.pid) && p.start !== sel.leaderStart) out.delete(p.pid);
  return out;
}

/** The pids of the job's processes in `table`, descendants included. */
export function selectJobProcesses(table: readonly ProcInfo[], sel: JobSelector, procRoot = '/proc'): ProcInfo[] {
  const chosen = new Map<number, ProcInfo>();
  const sessions = liveSessions(table, sel);
  const bornAfter = sel.leaderStart ?? 0;
  for (const p of table) {
    if (sel.exclude.has(p.pid) || p.pid <= 1) continue;
    if ((sessions.has(p.sid) || sessions.has(p.pgid) || sessions.has(p.pid)) && p.start >= bornAfter) chosen.set(p.pid, p);
    else if (sel.mark !== null && (sel.uid === null || p.uid === sel.uid) && hasJobMark(p.pid, sel.mark, procRoot)) chosen.set(p.pid, p);
  }
  // Descendants, to a fixed point (children may have moved to their own sessions).
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of table) {
      if (!chosen.has(p.pid) && chosen.has(p.ppid) && !sel.exclude.has(p.pid)) {
        chosen.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...chosen.values()];
}

/** This process and its ancestors: never signalled by a sweep. */
export function selfAndAncestors(procRoot = '/proc'): Set<number> {
  const out = new Set<number>([process.pid]);
  let pid = process.ppid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    out.add(pid);
    try {
      pid = Number(statFields(procRoot, pid)[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** Start time and uid of process `pid` now, or null if it is gone. */
export function processIdentity(pid: number, procRoot = '/proc'): { start: number; uid: number } | null {
  try {
    const start = Number(statFields(procRoot, pid)[19]);
    return { start, uid: statSync(join(procRoot, String(pid))).uid };
  } catch {
    return null;
  }
}

/**
 * True if `pid` lives in another pid namespace than this process: inside a container. A kill's
 * SIGTERM goes to those only (job-reap.ts): the runtime's own processes outside (the wrapper,
 * bwrap's monitor) would end the whole container at once on it, and take the payload's grace.
 */
export function inOtherPidNamespace(pid: number, procRoot = '/proc'): boolean {
  try {
    return readlinkSync(join(procRoot, String(pid), 'ns', 'pid')) !== readlinkSync(join(procRoot, 'self', 'ns', 'pid'));
  } catch {
    return false; // gone, or not ours to look at
  }
}

/** Signal every selected process (those `only` accepts, if given); returns how many were signalled. */
export function signalJob(sel: JobSelector, signal: NodeJS.Signals, procRoot = '/proc', only?: (pid: number) => boolean): number {
  let n = 0;
  for (const p of selectJobProcesses(readProcTable(procRoot), sel, procRoot)) {
    if (only && !only(p.pid)) continue;
    // The pid may have been freed and reused since the table was read.
    const now = processIdentity(p.pid, procRoot);
    if (!now || now.start !== p.start || now.uid !== p.uid) continue;
    try {
      process.kill(p.pid, signal);
      n++;
    } catch {
      /* gone, or not ours to signal */
    }
  }
  return n;
}
