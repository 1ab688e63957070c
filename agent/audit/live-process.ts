// A process alive now, as `glidein audit --pid` needs it (issue 25): its session, start time,
// cgroups and job marker (GLIDEIN_JOB_MARK in its environment: readable by root or its owner).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ticksToMs } from './job-usage.ts';

export interface LiveProcess {
  pid: number;
  sid: number;
  startMs: number | null;
  /** Its cgroup paths (one per hierarchy), as /proc/PID/cgroup names them. */
  cgroups: string[];
  mark: string | null;
}

const MARK = 'GLIDEIN_JOB_MARK=';

export function readLiveProcess(pid: number, procRoot = '/proc'): LiveProcess | null {
  let stat: string;
  try {
    stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name, which may hold spaces and parentheses: state is field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const sid = Number(f[3]);
  const start = Number(f[19]);
  let cgroups: string[] = [];
  try {
    cgroups = readFileSync(join(procRoot, String(pid), 'cgroup'), 'utf8').split('\n').map((l) => l.split(':').slice(2).join(':')).filter((p) => p !== '');
  } catch {
    /* gone meanwhile */
  }
  let mark: string | null = null;
  try {
    const env = readFileSync(join(procRoot, String(pid), 'environ'), 'latin1').split('\0');
    mark = env.find((e) => e.startsWith(MARK))?.slice(MARK.length) ?? null;
  } catch {
    /* not ours to read */
  }
  return { pid, sid, startMs: Number.isFinite(start) ? ticksToMs(start, procRoot) : null, cgroups, mark };
}
