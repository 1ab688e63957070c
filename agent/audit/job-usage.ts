// What a job used, for its end record (issue 25): CPU time and peak memory from its own cgroup
// (v2: cpu.stat usage_usec, memory.peak where the memory controller is enabled there, Linux
// >= 5.19), read just before the empty cgroup is removed. The v1 freezer hierarchy counts
// neither: null, "not known", never a guess. Also: a process's start time as wall-clock time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface JobUsage {
  cpuSeconds: number | null;
  peakMemoryBytes: number | null;
}

function readNumber(path: string, key?: string): number | null {
  try {
    const text = readFileSync(path, 'utf8');
    const raw = key === undefined ? text.trim() : new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1];
    const n = Number(raw);
    return raw !== undefined && raw !== '' && Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The usage counted in cgroup directory `dir` of kind `kind`. */
export function readCgroupUsage(dir: string, kind: 'v2' | 'v1-freezer'): JobUsage {
  if (kind !== 'v2') return { cpuSeconds: null, peakMemoryBytes: null };
  const usec = readNumber(join(dir, 'cpu.stat'), 'usage_usec');
  return { cpuSeconds: usec === null ? null : usec / 1e6, peakMemoryBytes: readNumber(join(dir, 'memory.peak')) };
}

/** Linux reports process start times in clock ticks since boot; USER_HZ is 100 on every Linux ABI glidein runs on. */
const USER_HZ = 100;

function bootTimeS(procRoot: string): number | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(join(procRoot, 'stat'), 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The wall-clock time (ms) of a start time in ticks since boot (/proc/PID/stat field 22). */
export function ticksToMs(ticks: number, procRoot = '/proc'): number | null {
  const boot = bootTimeS(procRoot);
  return boot === null ? null : boot * 1000 + (ticks * 1000) / USER_HZ;
}
