// Finding every process of a job (DESIGN.md section 7.6): by session and process group (the
// wrapper is a session leader), their descendants, and every process of the job's account that
// carries the job's own marker in its environment (GLIDEIN_JOB_MARK, random per job), which
// catches setsid/nohup children that left the session and were re-parented. A uid-wide sweep
// would also kill other pilots' jobs that map to the same account on a shared node, so none is
// done. A payload that scrubs its environment AND leaves its session escapes: only a cgroup
// closes that (not used yet: see the README).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  uid: number;
  /** Start time in clock ticks since boot: tells a reused pid apart. */
  start: number;
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
      out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), uid, start: Number(fields[19]) });
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

/** The pids of the job's processes in `table`, descendants included. */
export function selectJobProcesses(table: readonly ProcInfo[], sel: JobSelector, procRoot = '/proc'): ProcInfo[] {
  const chosen = new Map<number, ProcInfo>();
  for (const p of table) {
    if (sel.exclude.has(p.pid) || p.pid <= 1) continue;
    if (sel.sessions.has(p.sid) || sel.sessions.has(p.pgid) || sel.sessions.has(p.pid)) chosen.set(p.pid, p);
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

/** Signal every selected process; returns how many were signalled. */
export function signalJob(sel: JobSelector, signal: NodeJS.Signals, procRoot = '/proc'): number {
  let n = 0;
  for (const p of selectJobProcesses(readProcTable(procRoot), sel, procRoot)) {
    try {
      process.kill(p.pid, signal);
      n++;
    } catch {
      /* gone, or not ours to signal */
    }
  }
  return n;
}
