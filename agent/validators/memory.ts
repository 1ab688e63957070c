// memory: bytes this pilot may use — the smallest of the cgroup limit, any batch allocation and
// the node's RAM — with the node total and what is available right now alongside.
import { collectMemoryFacts, type MemoryFacts } from '../validate/facts/memory.ts';
import { defineValidator } from '../validate/validator.ts';
import { formatBytes } from '../validate/size.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

export function checkMemory(f: MemoryFacts, req: Requirements): CheckOutcome {
  const limits: { bytes: number; why: string }[] = [];
  if (f.nodeBytes !== null) limits.push({ bytes: f.nodeBytes, why: 'node total' });
  if (f.cgroup) limits.push({ bytes: f.cgroup.bytes, why: `cgroup v${f.cgroup.version} limit` });
  for (const a of f.batch.allocations) if (a.memoryBytes !== undefined) limits.push({ bytes: a.memoryBytes, why: `${a.source} allocation` });
  const required = req.memory ?? null;
  if (limits.length === 0) {
    return { result: { name: 'memory', status: required === null ? 'warn' : 'fail', value: null, required, detail: 'could not read /proc/meminfo or a memory limit', failure: required === null ? null : 'WN_Resource' } };
  }
  const tightest = limits.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  const usable = tightest.bytes;
  const failed = required !== null && usable < required;
  let detail = `${formatBytes(usable)} usable`;
  if (f.nodeBytes !== null) detail += ` of ${formatBytes(f.nodeBytes)}`;
  detail += ` (${tightest.why})`;
  if (f.availableBytes !== null) detail += `, ${formatBytes(f.availableBytes)} free now`;
  if (failed) detail += `; ${formatBytes(required)} required`;
  return {
    result: { name: 'memory', status: failed ? 'fail' : 'pass', value: usable, required, detail, failure: failed ? 'WN_Resource' : null },
    attributes: { GLIDEIN_MaxMemMBs: Math.floor(usable / 2 ** 20) },
  };
}

export const memory = defineValidator<MemoryFacts>({
  name: 'memory',
  deadlineMs: 2000,
  probeTimeoutMs: 0,
  isRequired: (req) => req.memory !== undefined,
  collect: (ctx) => collectMemoryFacts(ctx.host),
  check: checkMemory,
});
