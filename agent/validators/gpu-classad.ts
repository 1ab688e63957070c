// HTCondor's GPU attributes (issue 23), in the form a startd advertises from
// `condor_gpu_discovery -properties` (HTCondor src/gpu/condor_gpu_discovery.cpp for the tool,
// src/condor_startd.V6/ResAttributes.cpp for the machine ad): the device ids, then one nested
// ad per device holding every property (the tool's `Common` ad merged in, as the startd does)
// and its `Id`; its attribute name is `GPUs_<id>` cleaned for use as a name (every character
// other than a letter, digit or `_` becomes `_`, runs of `_` collapse). `AvailableGPUs` lists
// those names. The flat `GPUs_DeviceName` … of the older non-nested form are kept beside them.
import type { GpuDevice, GpuFacts } from '../validate/facts/gpu.ts';
import type { AttributeValue } from '../validate/types.ts';

/** HTCondor's GPU id: `GPU-` and the first 8 hex digits of the UUID; a MIG id is never shortened (it would not work). */
export function shortGpuId(uuid: string): string {
  if (/^MIG-/i.test(uuid)) return uuid;
  const hex = uuid.replace(/^GPU-/i, '').replace(/-/g, '');
  return `GPU-${hex.slice(0, 8).toLowerCase()}`;
}

/** cleanStringForUseAsAttr(…, '_') of HTCondor's classad_helpers.cpp. */
export function cleanAttrName(s: string): string {
  return s.trim().replace(/[^A-Za-z0-9_]/g, '_').replace(/_+/g, '_');
}

/** The CUDA driver API version as HTCondor prints it: `12.4` → DriverVersion 12.40, MaxSupportedVersion 12040. */
export function cudaDriverVersion(cuda: string): { text: string; max: number } | null {
  const m = /^(\d+)\.(\d+)$/.exec(cuda);
  if (!m) return null;
  const v = Number(m[1]) * 1000 + Number(m[2]) * 10;
  return { text: `${Math.floor(v / 1000)}.${v % 100}`, max: v };
}

function str(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One device's nested ad, its properties in the tool's order. */
function deviceAd(d: GpuDevice, f: GpuFacts): string {
  const props: [string, string][] = [['Id', str(shortGpuId(d.uuid))]];
  if (d.computeCapability) props.push(['Capability', d.computeCapability]);
  props.push(['DeviceName', str(d.name)]);
  props.push(['DeviceUuid', str(d.uuid.replace(/^GPU-/, ''))]);
  const cuda = f.cudaVersion ? cudaDriverVersion(f.cudaVersion) : null;
  if (cuda) props.push(['DriverVersion', cuda.text]);
  if (d.memoryMiB !== null) props.push(['GlobalMemoryMb', String(d.memoryMiB)]);
  if (cuda) props.push(['MaxSupportedVersion', String(cuda.max)]);
  if (d.parent) props.push(['ParentUuid', str(d.parent)]);
  return `[ ${props.map(([k, v]) => `${k} = ${v}`).join('; ')} ]`;
}

export function gpuAttributes(f: GpuFacts): Record<string, AttributeValue> {
  const attrs: Record<string, AttributeValue> = { DetectedGPUs: f.usable.length === 0 ? 0 : f.usable.map((d) => shortGpuId(d.uuid)).join(', ') };
  const first: GpuDevice | undefined = f.usable[0];
  if (!first) return attrs;
  // glidein's own: the full UUIDs the pilot hands to jobs (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES).
  attrs.GLIDEIN_GPU_UUIDS = f.usable.map((d) => d.uuid).join(',');
  attrs.GPUs_DeviceName = first.name;
  if (first.memoryMiB !== null) attrs.GPUs_GlobalMemoryMb = first.memoryMiB;
  if (first.computeCapability !== null) attrs.GPUs_Capability = Number(first.computeCapability);
  // HTCondor's DriverVersion is the CUDA driver API version (12.4), not the kernel driver's.
  if (f.cudaVersion !== null) attrs.GPUs_DriverVersion = Number(f.cudaVersion);
  if (f.driverVersion !== null) attrs.GPUs_NvidiaDriverVersion = f.driverVersion;
  const names = f.usable.map((d) => cleanAttrName(`GPUs_${shortGpuId(d.uuid)}`));
  attrs.AvailableGPUs = { classad: `{ ${names.join(', ')} }` };
  f.usable.forEach((d, i) => (attrs[names[i]!] = { classad: deviceAd(d, f) }));
  return attrs;
}
