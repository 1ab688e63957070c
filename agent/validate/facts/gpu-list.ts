// `nvidia-smi -L` (issue 23): the one nvidia-smi listing that names MIG devices by UUID
// (`nvidia-smi -q -x` has none for them). Lines, as NVIDIA's MIG user guide shows them:
//   GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-…)
//     MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-…)
// Drivers before R470 wrote MIG ids as MIG-GPU-<uuid>/<gi>/<ci>; both forms are taken.
import type { GpuDevice } from './gpu-device.ts';

export interface ListedMig {
  uuid: string;
  /** The MIG profile, e.g. `3g.20gb` or `1c.3g.20gb`. */
  profile: string;
}

/** Parent GPU UUID → its MIG devices, in the order listed. */
export function parseGpuList(text: string): Map<string, ListedMig[]> {
  const out = new Map<string, ListedMig[]>();
  let parent: string | null = null;
  for (const line of text.split('\n')) {
    const gpu = /^GPU \d+: .* \(UUID: (GPU-[0-9A-Fa-f-]+)\)\s*$/.exec(line);
    if (gpu) {
      parent = gpu[1]!;
      out.set(parent, []);
      continue;
    }
    const mig = /^\s+MIG (\S+)\s+Device\s+\d+: \(UUID: (MIG-[0-9A-Za-z/-]+)\)\s*$/.exec(line);
    if (mig && parent) out.get(parent)!.push({ uuid: mig[2]!, profile: mig[1]! });
  }
  return out;
}

/** The memory a MIG profile names (`…20gb` → 20 GiB in MiB): NVIDIA's nominal size, not NVML's exact figure. */
export function migProfileMiB(profile: string): number | null {
  const m = /(\d+)gb$/i.exec(profile);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * The schedulable devices: a GPU in MIG mode is replaced by its MIG devices (never offered whole,
 * as HTCondor's condor_gpu_discovery skips MIG parents), each named as NVML names it
 * ("<GPU name> MIG <profile>") and inheriting the parent's compute capability.
 */
export function migDevices(devices: GpuDevice[], listed: Map<string, ListedMig[]>): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const d of devices) {
    const migs = listed.get(d.uuid) ?? [];
    if (!d.migEnabled) {
      out.push(d);
      continue;
    }
    for (const m of migs) {
      out.push({ index: d.index, uuid: m.uuid, name: `${d.name} MIG ${m.profile}`, memoryMiB: migProfileMiB(m.profile), computeCapability: d.computeCapability, migEnabled: false, parent: d.uuid });
    }
  }
  return out;
}
