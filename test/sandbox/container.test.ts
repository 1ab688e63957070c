// Payloads in containers (issue 22) through the real CLI (`node agent/cli.ts exec`), with the real
// bubblewrap, a busybox image the test builds (no download), real accounts (setuid mode as root),
// real tokens. Skips, saying why, without bwrap or busybox; CI installs both (.ci/run).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { buildBusyboxImage as buildImage, skipWithoutBwrap as noBwrap } from '../helpers/container-image.ts';
import { runCli } from '../helpers/run-cli.ts';
import { HELPER, makeFixture, skipHelperMode, useNonRootPilot, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;
let images: string;
let image: string;

async function exec(job: string, policy: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json', ...extra], { source: true, env });
  let result: Record<string, unknown> = {};
  try {
    result = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    /* asserted by the caller */
  }
  return { ...r, result };
}

function userProcesses(user: string): string[] {
  try {
    return execFileSync('ps', ['-u', user, '-o', 'stat=,pid=,args=']).toString().split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z'));
  } catch {
    return [];
  }
}

describe.skipIf(!IS_ROOT)('payloads in a bubblewrap container', () => {
  let skip = false;
  let policy: string;
  beforeAll(async () => {
    skip = noBwrap();
    fx = await makeFixture(['glctralice', 'glctrbob']);
    images = join(fx.dir, 'images');
    mkdirSync(images, { mode: 0o755 });
    if (!skip) image = buildImage(join(images, 'busybox'));
    policy = fx.policy({ identity: 'setuid', containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
  });
  afterAll(() => fx?.cleanup());

  it.for(['setuid', 'helper'] as const)('the job runs as the mapped account with /srv as cwd and HOME, reads its token, and sees nothing of the pilot (%s mode)', async (mode, ctx) => {
    if (skip || (mode === 'helper' && skipHelperMode())) return ctx.skip();
    const modePolicy = mode === 'setuid' ? policy : fx.policy({ identity: 'helper', helper: HELPER, containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
    const w = fx.workdir(fx.users.a);
    const other = fx.workdir(fx.users.a);
    writeFileSync(join(other, 'secret'), 'other job');
    const jcred = await fx.token({ sub: 'alice-storage' });
    const script = [
      'echo "cwd=$(pwd) home=$HOME uid=$(id -u)"',
      'echo "token=$(cat "$BEARER_TOKEN_FILE")"',
      'echo "btf=$BEARER_TOKEN_FILE"',
      `test -e ${other} && echo SEES-OTHER-JOB`,
      `test -e ${fx.dir} && echo SEES-PILOT-DIR`,
      'echo "root=$(ls / | tr "\\n" " ")"',
      'echo "procs=$(ls /proc | grep -c "^[0-9]")"',
      'echo "pid1=$(tr "\\0" "\\n" < /proc/1/cmdline | head -4 | tr "\\n" " ")"',
      'env | sort',
    ].join('; ');
    const job = fx.job({
      id: `ctr-basic-${mode}`, executable: '/bin/sh', args: ['-c', script], cwd: w, stdout: join(w, 'out'), stderr: join(w, 'err'),
      env: { JOBVAR: 'from-the-job' }, identity: await fx.token({ sub: 'alice' }),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: jcred }], container: { image },
    });
    const r = await exec(job, modePolicy, [], { ...process.env, PILOT_ONLY_VARIABLE: 'leak' });
    expect(r.result, r.stderr).toMatchObject({ state: 'completed', exitCode: 0, uid: fx.users.a.uid });
    const out = readFileSync(join(w, 'out'), 'utf8');
    expect(out).toContain(`cwd=/srv home=/srv uid=${fx.users.a.uid}`);
    expect(out).toContain(`token=${jcred}`);
    expect(out).toContain('btf=/glidein/credentials/');
    expect(out).not.toContain('SEES-');
    expect(out).toContain('JOBVAR=from-the-job');
    expect(out).not.toContain('PILOT_ONLY_VARIABLE');
    // Own pid namespace: bwrap's init, the shell and its children; no pilot, no other process.
    const procs = Number(/procs=(\d+)/.exec(out)?.[1]);
    expect(procs).toBeGreaterThan(0);
    expect(procs).toBeLessThan(6);
    expect(out).toMatch(/root=.*bin/);
    expect(out).not.toMatch(/root=.*(etc|home|root|var) /);
    // bwrap's init (pid 1 here, and bwrap on the host) has its options on a pipe: no host path
    // (the image, the job's dir, its credential dir) on a command line anyone can read.
    const pid1 = /^pid1=(.*)$/m.exec(out)?.[1] ?? '';
    expect(pid1).toMatch(/^\S*bwrap --args 4 -- $/);
  });

  it.for([
    ['exit 7', { state: 'failed', exitCode: 7, signal: null }, { state: 'failed', exitCode: 7, signal: null }],
    ['exit 0', { state: 'completed', exitCode: 0, signal: null }, { state: 'completed', exitCode: 0, signal: null }],
    // What bubblewrap loses (README, "Runtimes"): a death by signal N is reported as exit code
    // 128+N, as a shell does; a bare run of the same payload reports the signal.
    ['kill -TERM $$', { state: 'failed', exitCode: null, signal: 'SIGTERM' }, { state: 'failed', exitCode: 143, signal: null }],
  ] as const)('the payload\'s exit status is the result, as a bare run gives it (%s)', async ([script, bare, inContainer], ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const id = `ctr-exit-${script.replace(/[^a-z0-9]+/gi, '-')}`;
    const spec = { executable: '/bin/sh', args: ['-c', script], cwd: w, identity: await fx.token({ sub: 'alice' }) };
    const b = await exec(fx.job({ ...spec, id: `${id}-bare` }), policy);
    expect(b.result, b.stderr).toMatchObject(bare);
    const r = await exec(fx.job({ ...spec, id, container: { image } }), policy);
    expect(r.result, r.stderr).toMatchObject(inContainer);
    if (inContainer.exitCode !== null) expect(r.code).toBe(inContainer.exitCode);
  });

  it('a double-forking payload in the container is ended with the job: 0 processes left', async (ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.b);
    const job = fx.job({
      id: 'ctr-fork', executable: '/bin/sh', args: ['-c', '(sleep 1000 &); (sleep 1001 &); sleep 1002'], cwd: w,
      limits: { wallclockSeconds: 2 }, identity: await fx.token({ sub: 'bob' }), container: { image },
    });
    const r = await exec(job, policy);
    expect(r.result, r.stderr).toMatchObject({ state: 'killed' });
    expect(String(r.result['reason'])).toMatch(/^timeout/);
    expect(userProcesses(fx.users.b.name)).toEqual([]);
  });

  it.for(['bare', 'in a container'])('a payload that traps SIGTERM gets the kill grace to clean up, then nothing of it is left (%s)', async (where, ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.b);
    const graceful = fx.policy({ identity: 'setuid', killGraceSeconds: 3, containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
    const script = 'trap "echo got-term; sleep 1; echo cleaned-up; exit 0" TERM; echo ready; while true; do sleep 1; done';
    const job = fx.job({
      id: `ctr-grace-${where === 'bare' ? 'bare' : 'ctr'}`, executable: '/bin/sh', args: ['-c', script], cwd: w, stdout: join(w, 'out'),
      limits: { wallclockSeconds: 4 }, identity: await fx.token({ sub: 'bob' }), ...(where === 'bare' ? {} : { container: { image } }),
    });
    const r = await exec(job, graceful);
    expect(r.result, r.stderr).toMatchObject({ state: 'killed' });
    const out = readFileSync(join(w, 'out'), 'utf8');
    expect(out).toContain('cleaned-up');
    expect(out.match(/got-term/g)).toHaveLength(1);
    expect(userProcesses(fx.users.b.name)).toEqual([]);
  });

  it('a tty payload in the container has a terminal', async (ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: 'ctr-tty', executable: '/bin/sh', args: ['-c', 'test -t 0 && test -t 1 && echo is-a-tty; pwd'], tty: true, cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'alice' }), container: { image } });
    const r = await exec(job, policy);
    if (r.result['launchError'] && (r.result['launchError'] as { code: string }).code === 'PTY_UNAVAILABLE') return ctx.skip();
    expect(r.result, r.stderr).toMatchObject({ state: 'completed', exitCode: 0 });
    const out = readFileSync(join(w, 'out'), 'utf8');
    expect(out).toContain('is-a-tty');
    expect(out).toContain('/srv');
  });

  it.for([
    ['an image outside the allowed roots (reached through a symlink under one)', 'escape', 'IMAGE_NOT_ALLOWED', 'allowedImageRoots'],
    ['a missing image', 'missing', 'IMAGE_MISSING', 'cannot be resolved'],
    ['a bind of a parent of a forbidden path', 'bind', 'BIND_FORBIDDEN', 'forbids'],
    ['an executable the image lacks', 'noexe', 'ENOENT', 'in image'],
  ])('%s is held, permanent, with the rule in the reason', async ([, kind, code, words], ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const outside = join(fx.dir, `outside-${kind}`);
    if (kind === 'escape') {
      buildImage(outside);
      symlinkSync(outside, join(images, `link-${kind}`));
    }
    const img = kind === 'escape' ? join(images, `link-${kind}`) : kind === 'missing' ? join(images, 'no-such-image') : image;
    const container = kind === 'bind' ? { image, binds: [`${fx.dir}:/data:ro`] } : { image: img };
    const forbidding = fx.policy({ identity: 'setuid', containers: { runtime: 'bwrap', allowedImageRoots: [images], forbiddenBinds: [join(fx.dir, 'jwks.json')] } });
    const exe = kind === 'noexe' ? '/usr/bin/python3' : '/bin/true';
    const job = fx.job({ id: `ctr-held-${kind}`, executable: exe, cwd: w, identity: await fx.token({ sub: 'alice' }), container });
    const r = await exec(job, forbidding);
    expect(r.code).toBe(3);
    expect(r.result, r.stderr).toMatchObject({ state: 'held', launchError: { code, permanent: true } });
    expect(String(r.result['reason'])).toContain(words);
    expect(r.stderr).not.toContain('retrying launch');
  });

  it.for<[string, string[], Record<string, unknown>, string | null]>([
    ['required, no job image: runs in the default image', ['--container-mode', 'required', '--default-image', '@image'], { state: 'completed' }, 'cwd=/srv'],
    ['preferred, no job image: runs in the default image', ['--container-mode', 'preferred', '--default-image', '@image'], { state: 'completed' }, 'cwd=/srv'],
    ['optional, no job image: runs bare', ['--container-mode', 'optional', '--default-image', '@image'], { state: 'completed' }, 'cwd=@workdir'],
    ['required without any image: held', ['--container-mode', 'required'], { state: 'held', launchError: { code: 'CONTAINER_REQUIRED', permanent: true } }, null],
  ])('entry mode %s', async ([, flags, expected, line], ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: `ctr-mode-${flags[1]}-${flags.length}`, executable: '/bin/sh', args: ['-c', 'echo "cwd=$(pwd)"'], cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, policy, flags.map((f) => (f === '@image' ? image : f)));
    expect(r.result, r.stderr).toMatchObject(expected);
    if (line) expect(readFileSync(join(w, 'out'), 'utf8')).toContain(line.replace('@workdir', w));
  });

  it.for(['the job spec', 'exec --default-image under required'])("an image whose path has a tag (osgvo-el9:latest) runs, named by %s", async (by, ctx) => {
    if (skip) return ctx.skip();
    const tagged = join(images, 'osgvo-el9:latest');
    if (!existsSync(tagged)) buildImage(tagged);
    const w = fx.workdir(fx.users.a);
    const byJob = by === 'the job spec';
    const job = fx.job({ id: `ctr-tag-${byJob ? 'job' : 'entry'}`, executable: '/bin/sh', args: ['-c', 'echo "cwd=$(pwd)"'], cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'alice' }), ...(byJob ? { container: { image: tagged } } : {}) });
    const r = await exec(job, policy, byJob ? [] : ['--container-mode', 'required', '--default-image', tagged]);
    expect(r.result, r.stderr).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(readFileSync(join(w, 'out'), 'utf8')).toContain('cwd=/srv');
  });

  it("a job naming an image under the entry's mode 'never' is held", async (ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: 'ctr-never', executable: '/bin/true', cwd: w, identity: await fx.token({ sub: 'alice' }), container: { image } });
    const r = await exec(job, policy, ['--container-mode', 'never']);
    expect(r.result, r.stderr).toMatchObject({ state: 'held', launchError: { code: 'CONTAINER_NOT_ALLOWED', permanent: true } });
    expect(String(r.result['reason'])).toContain("'never'");
  });

  it('a runtime that fails before the sandbox exists is transient: retried, then failed, not held', async (ctx) => {
    if (skip) return ctx.skip();
    // A bwrap that fails as bubblewrap does with user namespaces off.
    const bin = join(fx.dir, 'broken-bin');
    mkdirSync(bin, { mode: 0o755 });
    writeFileSync(join(bin, 'bwrap'), '#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n', { mode: 0o755 });
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: 'ctr-broken', executable: '/bin/true', cwd: w, identity: await fx.token({ sub: 'alice' }), container: { image } });
    const retrying = fx.policy({ identity: 'setuid', launchAttempts: 2, containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
    const r = await exec(job, retrying, [], { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` });
    expect(r.result, r.stderr).toMatchObject({ state: 'failed', launchError: { stage: 'container', code: 'CONTAINER_RUNTIME_FAILED', permanent: false } });
    expect(r.stderr).toContain('retrying launch');
  });
});

describe.skipIf(!IS_ROOT)('a non-root pilot in helper mode runs a container job', () => {
  const setup = useNonRootPilot(['glctrnra', 'glctrnrb'], 'glctrnrpilot');
  it('the wrapper writes the token as the user and the container sees it at its inside path', async (ctx) => {
    const made = setup();
    if (!made || noBwrap()) return ctx.skip();
    const { fx: f, pilot } = made;
    const imgs = join(f.dir, 'images');
    mkdirSync(imgs, { mode: 0o755 });
    const img = buildImage(join(imgs, 'busybox'));
    const w = f.workdir(f.users.a);
    const jcred = await f.token({ sub: 'alice-storage' });
    const job = f.job({
      id: 'ctr-nonroot', executable: '/bin/sh', args: ['-c', 'echo "uid=$(id -u) cwd=$(pwd) btf=$BEARER_TOKEN_FILE token=$(cat "$BEARER_TOKEN_FILE")"'], cwd: w, stdout: join(w, 'out'),
      identity: await f.token({ sub: 'alice' }), credentials: [{ purpose: 'storage', type: 'scitoken', token: jcred }], container: { image: img },
    });
    const r = await pilot.exec(job, pilot.policy({ containers: { runtime: 'bwrap', allowedImageRoots: [imgs] } }));
    expect(JSON.parse(r.stdout), r.stderr).toMatchObject({ state: 'completed', exitCode: 0, uid: f.users.a.uid });
    expect(readFileSync(join(w, 'out'), 'utf8')).toContain(`uid=${f.users.a.uid} cwd=/srv btf=/glidein/credentials/storage token=${jcred}`);
  });

  it('a kill through the helper gives a payload that traps SIGTERM its grace in the container', async (ctx) => {
    const made = setup();
    if (!made || noBwrap()) return ctx.skip();
    const { fx: f, pilot } = made;
    const imgs = join(f.dir, 'images-grace');
    mkdirSync(imgs, { mode: 0o755 });
    const img = buildImage(join(imgs, 'busybox'));
    const w = f.workdir(f.users.a);
    const script = 'trap "echo got-term; sleep 1; echo cleaned-up; exit 0" TERM; while true; do sleep 1; done';
    const job = f.job({ id: 'ctr-nonroot-grace', executable: '/bin/sh', args: ['-c', script], cwd: w, stdout: join(w, 'out'), limits: { wallclockSeconds: 4 }, identity: await f.token({ sub: 'alice' }), container: { image: img } });
    const r = await pilot.exec(job, pilot.policy({ killGraceSeconds: 3, containers: { runtime: 'bwrap', allowedImageRoots: [imgs] } }));
    expect(JSON.parse(r.stdout), r.stderr).toMatchObject({ state: 'killed' });
    const out = readFileSync(join(w, 'out'), 'utf8');
    expect(out, r.stderr).toContain('cleaned-up');
    expect(out.match(/got-term/g)).toHaveLength(1);
    expect(userProcesses(f.users.a.name)).toEqual([]);
  });
});
