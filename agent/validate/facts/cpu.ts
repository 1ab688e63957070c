// CPU facts: the node's online CPUs, this process's CPU affinity (cpuset), the cgroup CPU quota
// and batch allocations. Read straight from /proc and /sys: cheaper than systeminformation.
import { join } from 'node:path';
import { readText, type Host } from '../host.ts';
import { cgroupCpuLimit, type CgroupCpuLimit } from '../cgroup.ts';
import { batchFacts, type BatchFacts } from '../batch.ts';

export interface CpuFacts {
  /** CPUs online on the node, or null if unknown. */
  nodeCpus: number | null;
  /** CPUs in this process's affinity mask (`Cpus_allowed_list`), or null if unknown. */
  affinityCpus: number | null;
  cgroup: CgroupCpuLimit | null;
  batch: BatchFacts;
}

/** Count the CPUs of a Linux CPU list such as `0-3,8,10-11`. Null when malformed. */
export function countCpuList(list: string): number | null {
  let n = 0;
  const t = list.trim();
  if (t === '') return 0;
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return null;
    n += hi - lo + 1;
  }
  return n;
}

export async function collectCpuFacts(host: Host): Promise<CpuFacts> {
  const [online, status, cgroup, batch] = await Promise.all([
    readText(join(host.sysRoot, 'devices', 'system', 'cpu', 'online')),
    readText(join(host.procRoot, 'self', 'status')),
    cgroupCpuLimit(host),
    batchFacts(host),
  ]);
  let nodeCpus = online === undefined ? null : countCpuList(online);
  if (nodeCpus === null) {
    const info = await readText(join(host.procRoot, 'cpuinfo'));
    const count = info?.match(/^processor\s*:/gm)?.length;
    nodeCpus = count ?? null;
  }
  const allowed = status && /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1];
  const affinityCpus = allowed ? countCpuList(allowed) : null;
  return { nodeCpus, affinityCpus, cgroup, batch };
}
