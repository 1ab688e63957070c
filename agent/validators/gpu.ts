// gpu: the NVIDIA GPUs this pilot may use (nvidia-smi narrowed by CUDA_VISIBLE_DEVICES and the
// batch allocation) and HTCondor-style attributes. No GPU and none required is a skip, never a
// failure.
import { collectGpuFacts, type GpuFacts } from '../validate/facts/gpu.ts';
import { gpuAttributes, shortGpuId } from './gpu-classad.ts';
import { batchFacts } from '../validate/batch.ts';
import { defineValidator } from '../validate/validator.ts';
import type { CheckOutcome, CheckResult, Requirements } from '../validate/types.ts';

/** Whether CUDA version `have` is at least `want` (both X.Y). */
export function cudaAtLeast(have: string, want: string): boolean {
  const [a = 0, b = 0] = have.split('.').map(Number);
  const [c = 0, d = 0] = want.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** What the usable devices miss of gpu_memory= and cuda= (empty: nothing). */
function shortfalls(f: GpuFacts, req: Requirements): string[] {
  const out: string[] = [];
  if (req.gpuMemory !== undefined) {
    const wantMiB = req.gpuMemory / 1024 / 1024;
    const small = f.usable.filter((d) => d.memoryMiB === null || d.memoryMiB < wantMiB);
    if (small.length) out.push(`${small.length} device${small.length === 1 ? '' : 's'} below gpu_memory=${Math.ceil(wantMiB)} MiB`);
  }
  if (req.cuda !== undefined && (f.cudaVersion === null || !cudaAtLeast(f.cudaVersion, req.cuda))) out.push(`CUDA ${f.cudaVersion ?? 'unknown'} below cuda=${req.cuda}`);
  return out;
}

export function checkGpu(f: GpuFacts, req: Requirements): CheckOutcome {
  const required = req.gpus ?? null;
  const wanted = (required !== null && required > 0) || req.gpuMemory !== undefined || req.cuda !== undefined;
  const attributes = gpuAttributes(f);
  const result = (status: CheckResult['status'], value: number, detail: string, failed: boolean): CheckOutcome => ({ result: { name: 'gpu', status, value, required, detail, failure: failed ? 'WN_Resource' : null }, attributes });
  if (f.tool === null) {
    const detail = 'no nvidia-smi, amd-smi or rocm-smi on PATH: no GPU';
    return result(wanted ? 'fail' : 'skip', 0, wanted ? `${detail}, ${describeWanted(req)} required` : `${detail}; none required`, wanted);
  }
  // A hung nvidia-smi is a broken node (driver, GPU fallen off the bus), never "no GPU".
  if (f.error !== null) return result(wanted || f.hung ? 'fail' : 'warn', 0, f.error, wanted || f.hung === true);
  const n = f.usable.length;
  const parts: string[] = [`${n} usable of ${f.devices.length}`];
  if (f.narrowedBy.length) parts[0] += ` (${f.narrowedBy.join(', ')})`;
  const names = [...new Set(f.usable.map((d) => `${d.name}${d.memoryMiB === null ? '' : ` ${d.memoryMiB} MiB`}${d.computeCapability ? ` cc ${d.computeCapability}` : ''}`))];
  if (names.length) parts.push(names.join('; '));
  if (f.driverVersion) parts.push(`driver ${f.driverVersion}`);
  if (f.cudaVersion) parts.push(`CUDA ${f.cudaVersion}`);
  const missing = shortfalls(f, req);
  if (required !== null && n < required) missing.unshift(`${required} required`);
  parts.push(...missing);
  const failed = missing.length > 0;
  return result(failed ? 'fail' : n === 0 && !wanted ? 'skip' : 'pass', n, parts.join(', '), failed);
}

function describeWanted(req: Requirements): string {
  return [req.gpus ? `${req.gpus}` : null, req.gpuMemory !== undefined ? 'gpu_memory' : null, req.cuda !== undefined ? `cuda=${req.cuda}` : null].filter(Boolean).join(', ') || '1';
}

export const gpu = defineValidator<GpuFacts>({
  name: 'gpu',
  deadlineMs: 12_000,
  probeTimeoutMs: 10_000,
  isRequired: (req) => (req.gpus ?? 0) > 0 || req.gpuMemory !== undefined || req.cuda !== undefined,
  collect: async (ctx) => {
    const batch = await batchFacts(ctx.host);
    const allocated = batch.allocations.map((a) => a.gpus).filter((g): g is number => g !== undefined);
    return collectGpuFacts(ctx.host, {
      signal: ctx.signal,
      timeoutMs: ctx.probeTimeoutMs,
      ...(allocated.length ? { allocatedGpus: Math.min(...allocated) } : {}),
    });
  },
  check: checkGpu,
});

export { shortGpuId };
