// Per-job cgroups: finding where one can be made (fixture /proc/self files), ending a real
// process tree by its cgroup, and, end to end through `glidein exec` with a real account, a
// payload child that double-forks, leaves the session and scrubs its environment (which the
// process sweep alone cannot find) is still killed. Skipped, with the reason, where this
// machine lets no cgroup be made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCgroupParents, JobCgroup } from '../../agent/sandbox/cgroup-job.ts';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeFixture, skipHelperMode, type SandboxFixture } from './sandbox-fixture.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function procSelf(mountinfo: string[], cgroup: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'glsbx-cg-'));
  dirs.push(d);
  writeFileSync(join(d, 'mountinfo'), mountinfo.join('\n') + '\n');
  writeFileSync(join(d, 'cgroup'), cgroup.join('\n') + '\n');
  return d;
}

describe('where job cgroups can go', () => {
  it('a hybrid host offers its v2 hierarchy first, then the v1 freezer', () => {
    const d = procSelf(
      ['30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw', '36 30 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer', '39 30 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw'],
      ['6:freezer:/batch', '4:memory:/x', '0::/system.slice/glidein.service'],
    );
    expect(findCgroupParents(d)).toEqual([
      { kind: 'v2', dir: '/sys/fs/cgroup/unified/system.slice/glidein.service' },
      { kind: 'v1-freezer', dir: '/sys/fs/cgroup/freezer/batch' },
    ]);
  });

  it('a v2 mount of a subtree (a container) maps the cgroup path under its root; a path outside it is not offered', () => {
    const mounts = ['50 40 0:40 /kubepods/pod1 /sys/fs/cgroup ro - cgroup2 cgroup2 rw'];
    expect(findCgroupParents(procSelf(mounts, ['0::/kubepods/pod1/c1']))).toEqual([{ kind: 'v2', dir: '/sys/fs/cgroup/c1' }]);
    expect(findCgroupParents(procSelf(mounts, ['0::/elsewhere']))).toEqual([]);
  });

  it('a host without cgroup mounts offers nothing', () => {
    expect(findCgroupParents(procSelf(['22 1 8:1 / / rw - ext4 /dev/sda1 rw'], ['0::/']))).toEqual([]);
  });
});

const reasons: string[] = [];
const probe = IS_ROOT ? JobCgroup.create('probe', undefined, reasons) : null;
probe?.remove();
const noCgroup = probe === null ? `no cgroup can be made here (${IS_ROOT ? reasons.join('; ') || 'no cgroup hierarchy found' : 'not root'})` : null;
if (noCgroup) console.warn(`[skip] job cgroup tests: ${noCgroup}`);

/** True if `pid` is a live process (a zombie is dead: this container's pid 1 does not reap). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

async function waitForPid(file: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0) return pid;
    }
    await sleep(25);
  }
  throw new Error(`no pid in ${file}`);
}

// Double fork, new session, empty environment: invisible to the session and marker sweep.
const escape = (pidFile: string): string => `( setsid env -i /bin/sh -c 'echo $$ > ${pidFile}; exec sleep 300' & ) ; while [ ! -s ${pidFile} ]; do sleep 0.05; done`;

describe.skipIf(noCgroup !== null)('ending a job by its cgroup', () => {
  it.for(['v2', 'v1-freezer'] as const)('%s: kills a double-forked, session-leaving, env-scrubbed child of a process it adopted', async (kind, ctx) => {
    const parents = findCgroupParents().filter((p) => p.kind === kind);
    const cg = JobCgroup.create('unit', parents);
    if (!cg) {
      console.warn(`[skip] no ${kind} job cgroup can be made here`);
      return ctx.skip();
    }
    expect(cg.kind).toBe(kind);
    const d = mkdtempSync(join(tmpdir(), 'glsbx-cgk-'));
    dirs.push(d);
    const pidFile = join(d, 'escaped');
    // Like the wrapper, which forks nothing before the agent sends the spec: wait for a line.
    const sh = spawn('/bin/sh', ['-c', `read go; ${escape(pidFile)}`], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    expect(cg.adopt(sh.pid!)).toBe(true);
    sh.stdin!.end('go\n');
    const escaped = await waitForPid(pidFile);
    try {
      expect(cg.pids()).toContain(escaped);
      await cg.kill();
      for (let i = 0; i < 500 && alive(escaped); i++) await sleep(10);
      expect(alive(escaped)).toBe(false);
      for (let i = 0; i < 500 && !cg.isEmpty(); i++) await sleep(10);
      expect(cg.remove()).toBe(true);
    } finally {
      if (alive(escaped)) process.kill(escaped, 'SIGKILL');
      await cg.kill().catch(() => undefined);
      for (let i = 0; i < 500 && !cg.remove(); i++) await sleep(10);
    }
  });
});

describe.skipIf(noCgroup !== null)('whether a job cgroup confines its account (an empty one is then a finished job)', () => {
  it('v2: yes for an account that can write no cgroup.procs above it; no for root, for a delegated parent, a group-writable one, or its own dir', (ctx) => {
    const v2 = findCgroupParents().filter((p) => p.kind === 'v2');
    const parent = JobCgroup.create('parent', v2);
    if (!parent) {
      console.warn('[skip] no v2 job cgroup can be made here');
      return ctx.skip();
    }
    const child = JobCgroup.create('child', [{ kind: 'v2', dir: parent.path }]);
    try {
      expect(child).not.toBeNull();
      const [delegate, other] = [65534, 12345];
      expect(child!.confines(other)).toBe(true);
      expect(child!.confines(0)).toBe(false);
      // A parent delegated to an account (its cgroup.procs the account's): that account can
      // move its processes out of the child; another still cannot.
      chownSync(join(parent.path, 'cgroup.procs'), delegate, 0);
      expect(child!.confines(delegate)).toBe(false);
      expect(child!.confines(other)).toBe(true);
      chmodSync(join(parent.path, 'cgroup.procs'), 0o664);
      expect(child!.confines(other)).toBe(false);
      chmodSync(join(parent.path, 'cgroup.procs'), 0o644);
      chownSync(child!.path, other, 0);
      expect(child!.confines(other)).toBe(false);
    } finally {
      child?.remove();
      parent.remove();
    }
  });

  it('v1: never (a process may be moved into any cgroup whose tasks its owner may write)', (ctx) => {
    const cg = JobCgroup.create('v1', findCgroupParents().filter((p) => p.kind === 'v1-freezer'));
    if (!cg) {
      console.warn('[skip] no v1 freezer job cgroup can be made here');
      return ctx.skip();
    }
    try {
      expect(cg.confines(12345)).toBe(false);
    } finally {
      cg.remove();
    }
  });
});

describe.skipIf(noCgroup !== null || !IS_ROOT)('glidein exec with a job cgroup (real account)', () => {
  let fx: SandboxFixture;
  beforeAll(async () => {
    fx = await makeFixture(['glcgalice', 'glcgbob']);
  });
  afterAll(() => fx?.cleanup());

  it.for(['setuid', 'helper'] as const)('%s mode: a payload child that double-forked, left the session and scrubbed its environment is killed with the job', async (mode, ctx) => {
    if (mode === 'helper' && skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const pidFile = join(w, 'escaped');
    const job = fx.job({ id: `cg-escape-${mode}`, executable: '/bin/sh', args: ['-c', escape(pidFile)], cwd: w, identity: await fx.token({ sub: 'alice' }) });
    const r = await runCli(['exec', '--job', job, '--policy', fx.policies[mode], '--log-format', 'json'], { source: true });
    const escaped = await waitForPid(pidFile);
    try {
      expect(r.code, r.stderr).toBe(0);
      expect(alive(escaped), `pid ${escaped} (sleep 300 of ${fx.users.a.name}) survived the job`).toBe(false);
    } finally {
      if (alive(escaped)) process.kill(escaped, 'SIGKILL');
    }
  });
});

// A directory the tests can write but cgroups do not exist in: creation falls back to null.
it('JobCgroup.create answers null with the reason where the hierarchy refuses', () => {
  const d = mkdtempSync(join(tmpdir(), 'glsbx-cgn-'));
  dirs.push(d);
  mkdirSync(join(d, 'ro'), { mode: 0o500 });
  const why: string[] = [];
  expect(JobCgroup.create('x', [{ kind: 'v2', dir: join(d, 'missing', 'deeper') }], why)).toBeNull();
  expect(why[0]).toMatch(/ENOENT/);
});
