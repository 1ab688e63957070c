// Memory facts: node total and available (/proc/meminfo), the cgroup memory limit and batch
// allocations.
import { join } from 'node:path';
import { readText, type Host } from '../host.ts';
import { cgroupMemoryLimit, type CgroupMemoryLimit } from '../cgroup.ts';
import { batchFacts, type BatchFacts } from '../batch.ts';

export interface MemoryFacts {
  /** Bytes of RAM on the node, or null if unknown. */
  nodeBytes: number | null;
  availableBytes: number | null;
  cgroup: CgroupMemoryLimit | null;
  batch: BatchFacts;
}

function meminfoBytes(text: string, key: string): number | null {
  const m = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

export async function collectMemoryFacts(host: Host): Promise<MemoryFacts> {
  const [meminfo, cgroup, batch] = await Promise.all([
    readText(join(host.procRoot, 'meminfo')),
    cgroupMemoryLimit(host),
    batchFacts(host),
  ]);
  return {
    nodeBytes: meminfo ? meminfoBytes(meminfo, 'MemTotal') : null,
    availableBytes: meminfo ? meminfoBytes(meminfo, 'MemAvailable') : null,
    cgroup,
    batch,
  };
}
