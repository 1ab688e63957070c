// cores: how many CPUs this pilot may use — the smallest of the affinity mask, the cgroup CPU
// quota (rounded up, as Go and the JVM do) and any batch allocation — with the node's total.
import { collectCpuFacts, type CpuFacts } from '../validate/facts/cpu.ts';
import { defineValidator } from '../validate/validator.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

export function checkCores(f: CpuFacts, req: Requirements): CheckOutcome {
  const limits: { cpus: number; why: string }[] = [];
  if (f.affinityCpus !== null && f.affinityCpus > 0) limits.push({ cpus: f.affinityCpus, why: 'affinity' });
  else if (f.nodeCpus !== null) limits.push({ cpus: f.nodeCpus, why: 'node' });
  if (f.cgroup) limits.push({ cpus: Math.max(1, Math.ceil(f.cgroup.cpus - 1e-9)), why: `cgroup v${f.cgroup.version} quota ${+f.cgroup.cpus.toFixed(2)} CPU${f.cgroup.cpus === 1 ? '' : 's'}` });
  for (const a of f.batch.allocations) if (a.cpus !== undefined) limits.push({ cpus: a.cpus, why: `${a.source} allocation` });
  const required = req.cores ?? null;
  if (limits.length === 0) {
    return { result: { name: 'cores', status: required === null ? 'warn' : 'fail', value: null, required, detail: 'could not read the CPU affinity or the node CPU count', failure: required === null ? null : 'WN_Resource' } };
  }
  const tightest = limits.reduce((a, b) => (b.cpus < a.cpus ? b : a));
  const usable = tightest.cpus;
  const of = f.nodeCpus === null ? '' : ` of ${f.nodeCpus}`;
  let detail = `${usable} usable${of} (${tightest.why})`;
  if (f.batch.ignored.length) detail += `; ignored ${f.batch.ignored.join(', ')}`;
  const failed = required !== null && usable < required;
  if (failed) detail = `${usable} usable${of} (${tightest.why}), ${required} required`;
  return {
    result: { name: 'cores', status: failed ? 'fail' : 'pass', value: usable, required, detail, failure: failed ? 'WN_Resource' : null },
    attributes: { GLIDEIN_CPUS: usable },
  };
}

export const cores = defineValidator<CpuFacts>({
  name: 'cores',
  deadlineMs: 2000,
  probeTimeoutMs: 0,
  isRequired: (req) => req.cores !== undefined,
  collect: (ctx) => collectCpuFacts(ctx.host),
  check: checkCores,
});
