// The device nodes a job's GPUs need inside a container (issue 23): the driver's control nodes
// and, per assigned GPU, its /dev/nvidiaN, where N is the "Device Minor" the driver reports
// beside the GPU's UUID in /proc/driver/nvidia/gpus/<bus id>/information. Only those are
// bound into a bubblewrap container (its /dev is otherwise bwrap's minimal one), so a job
// cannot open another job's GPU there. A MIG instance has no node of its own: a job with one
// gets every GPU node and /dev/nvidia-caps (CUDA_VISIBLE_DEVICES alone keeps it on its instance).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the driver's files are; tests point these at fixture trees. */
export interface GpuHostPaths {
  procRoot: string;
  devRoot: string;
}

export const HOST_GPU_PATHS: GpuHostPaths = { procRoot: '/proc', devRoot: '/dev' };

/** Needed by every CUDA process, when the node has them. */
const CONTROL_NODES = ['nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-modeset'];

/** A node to bind: host path → path inside (always /dev/<name>). */
export interface DeviceBind {
  source: string;
  target: string;
}

/** GPU UUID → its device minor, from the driver's procfs. */
export function gpuMinors(procRoot: string): Map<string, number> {
  const out = new Map<string, number>();
  const dir = join(procRoot, 'driver', 'nvidia', 'gpus');
  let buses: string[];
  try {
    buses = readdirSync(dir);
  } catch {
    return out;
  }
  for (const bus of buses) {
    let text: string;
    try {
      text = readFileSync(join(dir, bus, 'information'), 'utf8');
    } catch {
      continue;
    }
    const uuid = /^GPU UUID:\s*(GPU-[0-9A-Fa-f-]+)\s*$/m.exec(text)?.[1];
    const minor = /^Device Minor:\s*(\d+)\s*$/m.exec(text)?.[1];
    if (uuid && minor !== undefined) out.set(uuid.toLowerCase(), Number(minor));
  }
  return out;
}

/** The binds for these assigned devices (UUIDs); nodes the host lacks are left out. */
export function gpuDeviceBinds(assigned: readonly string[], paths: GpuHostPaths = HOST_GPU_PATHS): DeviceBind[] {
  if (assigned.length === 0) return [];
  const minors = gpuMinors(paths.procRoot);
  const names = new Set(CONTROL_NODES);
  const mig = assigned.some((u) => /^MIG-/i.test(u));
  for (const u of assigned) {
    // A full UUID (the pilot's) or HTCondor's short id, a UUID prefix (GPU-6d4f0c6a).
    const id = u.toLowerCase();
    for (const [uuid, m] of minors) if (uuid.startsWith(id)) names.add(`nvidia${m}`);
  }
  if (mig) {
    for (const m of minors.values()) names.add(`nvidia${m}`);
    names.add('nvidia-caps');
  }
  return [...names].filter((n) => existsSync(join(paths.devRoot, n))).map((n) => ({ source: join(paths.devRoot, n), target: `/dev/${n}` }));
}
