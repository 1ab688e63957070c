// Other GPUs' device nodes closed to a job (issue 23), where the kernel lets the agent say so:
// a cgroup of its own in the cgroup v1 `devices` hierarchy whose devices.deny lists every NVIDIA
// GPU minor (character major 195) the job was not given, so opening such a node fails with EPERM
// whatever CUDA_VISIBLE_DEVICES says. The control nodes (nvidiactl 195:255, modeset 195:254) and
// the job's own GPUs stay open. cgroup v2 has no devices files (its device control is an eBPF
// program, which glidein does not load): there, and where the hierarchy is not writable, this is
// null and the job is told its GPUs by the variables alone (and, in a container, by its /dev).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gpuMinors, HOST_GPU_PATHS, type GpuHostPaths } from './gpu-devices.ts';

export const NVIDIA_MAJOR = 195;

/** The devices hierarchy's mount point and this process's cgroup in it, or null (no v1 devices controller). */
function devicesParent(procSelf: string): string | null {
  let mountinfo: string;
  let cgroups: string;
  try {
    mountinfo = readFileSync(join(procSelf, 'mountinfo'), 'utf8');
    cgroups = readFileSync(join(procSelf, 'cgroup'), 'utf8');
  } catch {
    return null;
  }
  let mount: { root: string; point: string } | null = null;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    const f = left?.split(' ') ?? [];
    const [fstype, , opts = ''] = right?.split(' ') ?? [];
    if (fstype === 'cgroup' && opts.split(',').includes('devices')) mount = { root: f[3] ?? '/', point: f[4] ?? '' };
  }
  const own = cgroups.split('\n').map((l) => l.split(':')).find((p) => p.length >= 3 && p[1]!.split(',').includes('devices'))?.slice(2).join(':');
  if (!mount || own === undefined) return null;
  const rel = own.startsWith(mount.root) ? own.slice(mount.root.length) : own;
  return join(mount.point, rel);
}

/** The GPU minors a job with these devices may not open: every other GPU's (none when it has a MIG instance: they share their GPU's node). */
export function deniedMinors(assigned: readonly string[], paths: GpuHostPaths = HOST_GPU_PATHS): number[] {
  if (assigned.some((a) => /^MIG-/i.test(a))) return [];
  const out: number[] = [];
  for (const [uuid, minor] of gpuMinors(paths.procRoot)) if (!assigned.some((a) => uuid.startsWith(a.toLowerCase()))) out.push(minor);
  return out.sort((a, b) => a - b);
}

export class GpuDeviceCgroup {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** A devices cgroup denying these minors, or null (nothing to deny, v2 only, not writable). */
  static create(jobId: string, minors: readonly number[], problems: string[] = [], procSelf = '/proc/self'): GpuDeviceCgroup | null {
    if (minors.length === 0) return null;
    const parent = devicesParent(procSelf);
    if (!parent) {
      problems.push('no cgroup v1 devices hierarchy (cgroup v2 device control needs an eBPF program)');
      return null;
    }
    const path = join(parent, `glidein-gpus-${jobId}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(path);
      for (const m of minors) writeFileSync(join(path, 'devices.deny'), `c ${NVIDIA_MAJOR}:${m} rwm`);
      return new GpuDeviceCgroup(path);
    } catch (e) {
      problems.push(`${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      try {
        rmdirSync(path);
      } catch {
        /* not made */
      }
      return null;
    }
  }

  /** Move a process in (its later children follow); false when the kernel refused. */
  adopt(pid: number): boolean {
    try {
      writeFileSync(join(this.path, 'cgroup.procs'), String(pid));
      return true;
    } catch {
      return false;
    }
  }

  /** Remove it once the job's processes are gone (an rmdir of a cgroup with tasks fails: kept). */
  remove(): void {
    try {
      rmdirSync(this.path);
    } catch {
      /* still busy or gone */
    }
  }
}
