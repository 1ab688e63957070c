// CPU and memory limits from the pilot's own cgroup, v1 or v2, walking from its cgroup up to the
// hierarchy's root (a parent's limit binds the child too). Paths come from /proc/self/cgroup;
// the hierarchies are looked for at their standard mount points under `sysRoot/fs/cgroup`.
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { readText, type Host } from './host.ts';
import { parseCgroupLine } from '../cgroup-paths.ts';

export interface CgroupCpuLimit {
  version: 1 | 2;
  /** The tightest quota found, as CPUs (may be fractional: 1.5). */
  cpus: number;
  /** The cgroup directory that set it. */
  path: string;
}

export interface CgroupMemoryLimit {
  version: 1 | 2;
  bytes: number;
  path: string;
}

interface Membership {
  v2Path: string | undefined;
  /** controller name → path, for v1 hierarchies */
  v1: Map<string, string>;
}

async function membership(host: Host): Promise<Membership> {
  const text = (await readText(join(host.procRoot, 'self', 'cgroup'))) ?? '';
  const v1 = new Map<string, string>();
  let v2Path: string | undefined;
  for (const line of text.split('\n')) {
    const e = parseCgroupLine(line.trim());
    if (!e) continue;
    if (e.v2) v2Path = e.path;
    else for (const c of e.controllers) if (c) v1.set(c, e.path);
  }
  return { v2Path, v1 };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The directories from the pilot's cgroup up to the mount root. Inside a container with a cgroup
 * namespace the recorded path may not exist under the mount: then the mount root is our cgroup.
 */
async function chain(mount: string, cgPath: string): Promise<string[]> {
  let rel = posix.normalize('/' + cgPath);
  if (rel.split('/').includes('..')) rel = '/';
  if (!(await isDir(join(mount, rel)))) rel = '/';
  const dirs: string[] = [];
  for (;;) {
    dirs.push(join(mount, rel));
    if (rel === '/') break;
    rel = posix.dirname(rel);
  }
  return dirs;
}

async function v2Mount(host: Host): Promise<string | undefined> {
  const base = join(host.sysRoot, 'fs', 'cgroup');
  for (const dir of [base, join(base, 'unified')]) {
    if ((await readText(join(dir, 'cgroup.controllers'))) !== undefined) return dir;
  }
  return undefined;
}

async function v1Mount(host: Host, controller: string): Promise<string | undefined> {
  const base = join(host.sysRoot, 'fs', 'cgroup');
  const names = controller === 'cpu' ? ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'] : [controller];
  for (const n of names) if (await isDir(join(base, n))) return join(base, n);
  return undefined;
}

/** v1 reports "no limit" as a huge page-aligned number near 2^63. */
const V1_UNLIMITED = 2 ** 62;

export async function cgroupCpuLimit(host: Host): Promise<CgroupCpuLimit | null> {
  const m = await membership(host);
  let best: CgroupCpuLimit | null = null;
  const consider = (version: 1 | 2, cpus: number, path: string) => {
    if (cpus > 0 && (best === null || cpus < best.cpus)) best = { version, cpus, path };
  };
  if (m.v2Path !== undefined) {
    const mount = await v2Mount(host);
    if (mount) {
      for (const dir of await chain(mount, m.v2Path)) {
        const text = await readText(join(dir, 'cpu.max'));
        const q = text && /^(\d+)\s+(\d+)/.exec(text.trim());
        if (q) consider(2, Number(q[1]) / Number(q[2]), dir);
      }
    }
  }
  const v1Path = m.v1.get('cpu');
  if (v1Path !== undefined) {
    const mount = await v1Mount(host, 'cpu');
    if (mount) {
      for (const dir of await chain(mount, v1Path)) {
        const [quota, period] = await Promise.all([readText(join(dir, 'cpu.cfs_quota_us')), readText(join(dir, 'cpu.cfs_period_us'))]);
        const q = Number(quota?.trim());
        const p = Number(period?.trim());
        if (Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0) consider(1, q / p, dir);
      }
    }
  }
  return best;
}

export async function cgroupMemoryLimit(host: Host): Promise<CgroupMemoryLimit | null> {
  const m = await membership(host);
  let best: CgroupMemoryLimit | null = null;
  const consider = (version: 1 | 2, bytes: number, path: string) => {
    if (Number.isSafeInteger(bytes) && bytes > 0 && bytes < V1_UNLIMITED && (best === null || bytes < best.bytes)) best = { version, bytes, path };
  };
  if (m.v2Path !== undefined) {
    const mount = await v2Mount(host);
    if (mount) {
      for (const dir of await chain(mount, m.v2Path)) {
        const text = (await readText(join(dir, 'memory.max')))?.trim();
        if (text && /^\d+$/.test(text)) consider(2, Number(text), dir);
      }
    }
  }
  const v1Path = m.v1.get('memory');
  if (v1Path !== undefined) {
    const mount = await v1Mount(host, 'memory');
    if (mount) {
      for (const dir of await chain(mount, v1Path)) {
        const text = (await readText(join(dir, 'memory.limit_in_bytes')))?.trim();
        if (text && /^\d+$/.test(text)) consider(1, Number(text), dir);
      }
    }
  }
  return best;
}
