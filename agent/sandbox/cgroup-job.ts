// One cgroup per job, where the agent may make one (issue 11, item 9). Every process the
// wrapper forks stays in its cgroup whatever it does (double fork, setsid, a scrubbed
// environment), so ending the job by its cgroup leaves nothing behind, and no pid is ever
// guessed. Preference: cgroup v2 with `cgroup.kill` (Linux ≥ 5.14; the agent's own cgroup must
// be writable: root, or a delegated subtree), then the v1 freezer hierarchy (freeze, SIGKILL
// every task, thaw). Neither: null, and the caller relies on the process sweep alone.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCgroupLine } from '../cgroup-paths.ts';

export type CgroupKind = 'v2' | 'v1-freezer';

/** The agent's own cgroup directory in one hierarchy: job cgroups are made inside it. */
export interface CgroupParent {
  kind: CgroupKind;
  dir: string;
}

interface Mount {
  point: string;
  root: string;
}

/** cgroup mounts from /proc/self/mountinfo text: the v2 one and the v1 freezer one. */
function cgroupMounts(mountinfo: string): { v2?: Mount; freezer?: Mount } {
  const out: { v2?: Mount; freezer?: Mount } = {};
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    const m = { root: unescapeMount(f[3] ?? ''), point: unescapeMount(f[4] ?? '') };
    if (fstype === 'cgroup2') out.v2 ??= m;
    else if (fstype === 'cgroup' && superOptions.split(',').includes('freezer')) out.freezer ??= m;
  }
  return out;
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The directory of cgroup `path` (from /proc/self/cgroup) under `mount`, or null if outside it. */
function dirOf(mount: Mount, path: string): string | null {
  if (mount.root === '/') return join(mount.point, path);
  if (path === mount.root || path.startsWith(`${mount.root}/`)) return join(mount.point, path.slice(mount.root.length));
  return null;
}

/** Where job cgroups could go, best first (v2, then the v1 freezer), from `procSelf`. */
export function findCgroupParents(procSelf = '/proc/self'): CgroupParent[] {
  let mountinfo: string;
  let membership: string;
  try {
    mountinfo = readFileSync(join(procSelf, 'mountinfo'), 'utf8');
    membership = readFileSync(join(procSelf, 'cgroup'), 'utf8');
  } catch {
    return [];
  }
  const mounts = cgroupMounts(mountinfo);
  const out: CgroupParent[] = [];
  for (const line of membership.split('\n')) {
    const e = parseCgroupLine(line);
    if (!e || !e.path.startsWith('/')) continue;
    const mount = e.v2 ? mounts.v2 : e.controllers.includes('freezer') ? mounts.freezer : undefined;
    const dir = mount ? dirOf(mount, e.path) : null;
    if (dir) out.push({ kind: e.id === '0' ? 'v2' : 'v1-freezer', dir });
  }
  return out.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'v2' ? -1 : 1));
}

let ownParents: CgroupParent[] | null = null;
/** This process's parents, read once: the agent does not move between cgroups while it runs. */
const defaultParents = (): CgroupParent[] => (ownParents ??= findCgroupParents());

export class JobCgroup {
  readonly kind: CgroupKind;
  readonly path: string;

  private constructor(kind: CgroupKind, path: string) {
    this.kind = kind;
    this.path = path;
  }

  /**
   * Make a cgroup for job `jobId` in the first hierarchy that allows it; null when none does
   * (`reasons` then says why, for the log).
   */
  static create(jobId: string, parents: readonly CgroupParent[] = defaultParents(), reasons: string[] = []): JobCgroup | null {
    const name = `glidein-${jobId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}-${randomBytes(6).toString('hex')}`;
    for (const p of parents) {
      const path = join(p.dir, name);
      try {
        mkdirSync(path, { mode: 0o755 });
      } catch (e) {
        reasons.push(`${p.kind} ${p.dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        continue;
      }
      if (p.kind === 'v2' && !existsSync(join(path, 'cgroup.kill'))) {
        reasons.push(`${p.kind} ${p.dir}: no cgroup.kill (Linux < 5.14)`);
        rmdirSync(path);
        continue;
      }
      return new JobCgroup(p.kind, path);
    }
    return null;
  }

  /** Move process `pid` (and its threads) into the cgroup; false if the kernel refused. */
  adopt(pid: number): boolean {
    try {
      writeFileSync(join(this.path, 'cgroup.procs'), `${pid}\n`);
      return true;
    } catch {
      return false;
    }
  }

  /** The processes in the cgroup now. */
  pids(): number[] {
    try {
      return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch {
      return [];
    }
  }

  isEmpty(): boolean {
    return this.pids().length === 0;
  }

  /** Send `signal` to every process of the cgroup (those `only` accepts, if given); SIGKILL ends
   * them all at once (see kill). Returns the pids it signalled (none for SIGKILL). */
  async signal(signal: NodeJS.Signals, only?: (pid: number) => boolean): Promise<number[]> {
    if (signal === 'SIGKILL') {
      await this.kill();
      return [];
    }
    const done: number[] = [];
    for (const pid of this.pids()) {
      if (only && !only(pid)) continue;
      try {
        process.kill(pid, signal);
        done.push(pid);
      } catch {
        /* gone, or not ours to signal (a non-root agent): SIGKILL through the cgroup follows */
      }
    }
    return done;
  }

  /** SIGKILL every process in the cgroup, including those forked meanwhile. */
  async kill(): Promise<void> {
    if (this.kind === 'v2') {
      writeFileSync(join(this.path, 'cgroup.kill'), '1\n');
      return;
    }
    // v1: a frozen cgroup cannot fork, so the task list cannot grow while it is killed.
    const state = join(this.path, 'freezer.state');
    writeFileSync(state, 'FROZEN\n');
    for (let i = 0; i < 100 && readFileSync(state, 'utf8').trim() !== 'FROZEN'; i++) await sleep(10);
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    writeFileSync(state, 'THAWED\n');
  }

  /**
   * Whether processes of account `uid` in this cgroup can never leave it, so that once it is
   * empty nothing of the job is left anywhere: cgroup v2 only (v1 lets a process be moved into
   * any cgroup whose `tasks` its owner may write), `uid` not root, and neither this cgroup's
   * directory nor the `cgroup.procs` of any ancestor up to the hierarchy's root writable by it
   * (leaving needs write access to the common ancestor's `cgroup.procs`; a subtree delegated to
   * the account is such an ancestor). Group-writable counts as writable: the account's groups
   * are not looked up.
   */
  confines(uid: number): boolean {
    if (this.kind !== 'v2' || uid === 0) return false;
    const writable = (path: string): boolean | null => {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) return null;
      return (st.uid === uid && (st.mode & 0o200) !== 0) || (st.mode & 0o022) !== 0;
    };
    if (writable(this.path) !== false) return false;
    for (let dir = dirname(this.path); ; dir = dirname(dir)) {
      const w = writable(join(dir, 'cgroup.procs'));
      if (w === null) return true; // above the hierarchy's root
      if (w) return false;
      if (dir === '/') return true;
    }
  }

  /** Remove the (empty) cgroup; false if processes are still in it. */
  remove(): boolean {
    try {
      rmdirSync(this.path);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
}
