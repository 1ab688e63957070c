// gpu: the NVIDIA GPUs this pilot may use (nvidia-smi narrowed by CUDA_VISIBLE_DEVICES and the
// batch allocation) and HTCondor-style attributes. No GPU and none required is a skip, never a
// failure.
import { collectGpuFacts, type GpuFacts, type GpuDevice } from '../validate/facts/gpu.ts';
import { batchFacts } from '../validate/batch.ts';
import { defineValidator } from '../validate/validator.ts';
import type { AttributeValue, CheckOutcome, Requirements } from '../validate/types.ts';

/** HTCondor's short GPU id: `GPU-` and the first 8 hex digits of the UUID. */
export function shortGpuId(uuid: string): string {
  const hex = uuid.replace(/^(GPU|MIG)-/i, '').replace(/-/g, '');
  return `GPU-${hex.slice(0, 8).toLowerCase()}`;
}

function gpuAttributes(f: GpuFacts): Record<string, AttributeValue> {
  const attrs: Record<string, AttributeValue> = { DetectedGPUs: f.usable.length === 0 ? 0 : f.usable.map((d) => shortGpuId(d.uuid)).join(', ') };
  const first: GpuDevice | undefined = f.usable[0];
  if (first) {
    // glidein's own: the full UUIDs the pilot hands to jobs (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES).
    attrs.GLIDEIN_GPU_UUIDS = f.usable.map((d) => d.uuid).join(',');
    attrs.GPUs_DeviceName = first.name;
    if (first.memoryMiB !== null) attrs.GPUs_GlobalMemoryMb = first.memoryMiB;
    if (first.computeCapability !== null) attrs.GPUs_Capability = Number(first.computeCapability);
    // HTCondor's DriverVersion is the CUDA driver API version (12.4), not the kernel driver's.
    if (f.cudaVersion !== null) attrs.GPUs_DriverVersion = Number(f.cudaVersion);
    if (f.driverVersion !== null) attrs.GPUs_NvidiaDriverVersion = f.driverVersion;
  }
  return attrs;
}

export function checkGpu(f: GpuFacts, req: Requirements): CheckOutcome {
  const required = req.gpus ?? null;
  const wanted = required !== null && required > 0;
  const attributes = gpuAttributes(f);
  if (f.tool === null) {
    const detail = 'no nvidia-smi on PATH: no NVIDIA GPU';
    return { result: { name: 'gpu', status: wanted ? 'fail' : 'skip', value: 0, required, detail: wanted ? `${detail}, ${required} required` : `${detail}; none required`, failure: wanted ? 'WN_Resource' : null }, attributes };
  }
  if (f.error !== null) {
    return { result: { name: 'gpu', status: wanted ? 'fail' : 'warn', value: 0, required, detail: f.error, failure: wanted ? 'WN_Resource' : null }, attributes };
  }
  const n = f.usable.length;
  const parts: string[] = [`${n} usable of ${f.devices.length}`];
  if (f.narrowedBy.length) parts[0] += ` (${f.narrowedBy.join(', ')})`;
  const names = [...new Set(f.usable.map((d) => `${d.name}${d.memoryMiB === null ? '' : ` ${d.memoryMiB} MiB`}${d.computeCapability ? ` cc ${d.computeCapability}` : ''}`))];
  if (names.length) parts.push(names.join('; '));
  if (f.driverVersion) parts.push(`driver ${f.driverVersion}`);
  if (f.cudaVersion) parts.push(`CUDA ${f.cudaVersion}`);
  const failed = required !== null && n < required;
  if (failed) parts.push(`${required} required`);
  const status = failed ? 'fail' : n === 0 && required === null ? 'skip' : 'pass';
  return { result: { name: 'gpu', status, value: n, required, detail: parts.join(', '), failure: failed ? 'WN_Resource' : null }, attributes };
}

export const gpu = defineValidator<GpuFacts>({
  name: 'gpu',
  deadlineMs: 12_000,
  probeTimeoutMs: 10_000,
  isRequired: (req) => (req.gpus ?? 0) > 0,
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
