// The sandbox end to end through the real CLI (`node agent/cli.ts exec`): real accounts,
// real sudo, real tokens verified against a JWKS file, real processes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { ROOT } from '../helpers/paths.ts';
import { makeFixture, skipHelperMode, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;
const FIX = join(ROOT, 'test', 'fixtures', 'sandbox');

async function exec(job: string, policy: string, env: NodeJS.ProcessEnv = process.env) {
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json'], { source: true, env });
  let result: Record<string, unknown> = {};
  try {
    result = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    /* asserted by the caller */
  }
  return { ...r, result };
}

/** Live processes of `user` (zombies are dead already; this container's pid 1 does not reap). */
function userProcesses(user: string): string {
  try {
    return execFileSync('ps', ['-u', user, '-o', 'stat=,pid=,args=']).toString().split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z')).join('\n');
  } catch {
    return '';
  }
}

describe.skipIf(!IS_ROOT)('glidein exec through the sandbox', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glsbxalice', 'glsbxbob']);
  });
  afterAll(() => fx?.cleanup());

  it.for(['setuid', 'helper'] as const)("the payload's id -u is the mapped account's uid in %s mode", async (mode, ctx) => {
    if (mode === 'helper' && skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: `id-${mode}`, executable: '/usr/bin/id', args: ['-u'], cwd: w, stdout: join(w, 'out'), stderr: join(w, 'err'), identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies[mode]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ id: `id-${mode}`, state: 'completed', exitCode: 0, uid: fx.users.a.uid, launchError: null });
    expect(readFileSync(join(w, 'out'), 'utf8').trim()).toBe(String(fx.users.a.uid));
  });

  it('a missing executable is held with ENOENT, permanent, and not retried', async () => {
    const job = fx.job({ id: 'missing', executable: '/nonexistent/bin/payload', identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', launchError: { stage: 'exec', code: 'ENOENT', permanent: true } });
    expect(r.stderr).not.toContain('retrying launch');
  });

  it.each([
    ['a script whose interpreter is missing', join(FIX, 'missing-interpreter.sh'), 'ENOENT'],
    ['a file without execute permission', join(FIX, 'not-executable.txt'), 'EACCES'],
  ])('%s is held with the errno execve would give', async (_what, executable, code) => {
    const job = fx.job({ id: 'noexec', executable, identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', launchError: { code, permanent: true } });
  });

  it.each([
    ['an unmapped identity', { sub: 'mallory' }, false, 'UNMAPPED'],
    ['a forged identity (signed by another key)', { sub: 'alice' }, true, 'UNVERIFIED'],
    ['an expired identity', { sub: 'alice', exp: Math.floor(Date.now() / 1000) - 600 }, false, 'UNVERIFIED'],
    ['an identity from an untrusted issuer', { sub: 'alice', iss: 'https://evil.example' }, false, 'UNVERIFIED'],
    ['an identity mapped to root', { sub: 'rooty' }, false, 'ROOT_REFUSED'],
  ] as const)('%s is held and never run', async (_what, claims, forged, code) => {
    const w = fx.workdir();
    const marker = join(w, 'ran');
    const job = fx.job({ id: 'who', executable: '/usr/bin/touch', args: [marker], identity: await fx.token(claims, forged) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', uid: null, launchError: { stage: 'identity', code, permanent: true } });
    expect(() => readFileSync(marker)).toThrow();
  });

  it("the pilot's variables and LD_PRELOAD do not reach the payload; BEARER_TOKEN_FILE is 0600, the account's, and holds the J-CRED", async () => {
    const w = fx.workdir(fx.users.b);
    const now = Math.floor(Date.now() / 1000);
    const jcred = await fx.token({ sub: 'bob-storage', exp: now + 3600 });
    const script = 'env; echo ---; stat -c "%a %u %U" "$BEARER_TOKEN_FILE"; stat -c "%a %u" "$(dirname "$BEARER_TOKEN_FILE")"; echo ---; cat "$BEARER_TOKEN_FILE"; echo; echo ---; umask';
    const job = fx.job({
      id: 'env',
      executable: '/bin/sh',
      args: ['-c', script],
      env: { JOB_VAR: 'job-value' },
      cwd: w,
      stdout: join(w, 'out'),
      stderr: join(w, 'err'),
      identity: await fx.token({ sub: 'bob' }),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: jcred }],
    });
    const env = { ...process.env, GLIDEIN_PILOT_SECRET: 'pilot-secret-value', LD_PRELOAD: '/nonexistent/libevil.so', _CONDOR_SCRATCH_DIR: '/pilot/scratch' };
    const r = await exec(job, fx.policies.setuid, env);
    expect(r.code, r.stderr).toBe(0);
    const [envText, stats, token, umask] = readFileSync(join(w, 'out'), 'utf8').split('---\n');
    expect(envText).toContain('JOB_VAR=job-value');
    expect(envText).toContain(`USER=${fx.users.b.name}`);
    expect(envText).not.toContain('pilot-secret-value');
    expect(envText).not.toContain('LD_PRELOAD');
    expect(envText).not.toContain('_CONDOR_SCRATCH_DIR');
    expect(envText).toMatch(/^BEARER_TOKEN_FILE=\//m);
    const [fileLine, dirLine] = stats!.trim().split('\n');
    expect(fileLine).toBe(`600 ${fx.users.b.uid} ${fx.users.b.name}`);
    expect(dirLine).toBe(`700 ${fx.users.b.uid}`);
    expect(token!.trim()).toBe(jcred);
    expect(umask!.trim()).toBe('0077');
    // The token never reaches a log line.
    expect(r.stderr).not.toContain(jcred);
  });

  it('a job whose LD_PRELOAD is set in the spec is rejected with exit 2', async () => {
    const job = fx.job({ id: 'preload', executable: '/bin/true', env: { LD_PRELOAD: '/tmp/x.so' } });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('env.LD_PRELOAD');
  });

  it('a credential expiring mid-job stops the job before it expires', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Long enough for a slow, shared machine to start the job before the 2 s grace begins.
    const exp = now + 10;
    const job = fx.job({
      id: 'expiring',
      executable: '/bin/sleep',
      args: ['60'],
      identity: await fx.token({ sub: 'alice' }),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'alice-storage', exp }) }],
    });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ state: 'killed', signal: 'SIGTERM' });
    expect(String(r.result['reason'])).toMatch(/^credential-expired/);
    expect(Date.now()).toBeLessThan(exp * 1000);
  });

  it('the wallclock limit kills the job with reason timeout', async () => {
    const job = fx.job({ id: 'slow', executable: '/bin/sleep', args: ['60'], limits: { wallclockSeconds: 1 }, identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ state: 'killed' });
    expect(String(r.result['reason'])).toMatch(/^timeout/);
  });

  it.for(['setuid', 'helper'] as const)('background children (setsid, nohup, double fork) are gone after the job in %s mode', async (mode, ctx) => {
    if (mode === 'helper' && skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.b);
    const job = fx.job({ id: `bg-${mode}`, executable: join(FIX, 'background.sh'), cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies[mode]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(w, 'out'), 'utf8')).toContain('started');
    expect(userProcesses(fx.users.b.name)).toBe('');
  });

  it("ending one job with background children leaves another pilot's job of the same account running", async () => {
    // Another pilot on the same node: a job of the same account started by a separate agent process.
    const w1 = fx.workdir(fx.users.b);
    // It says it runs, then waits for the test's go (given once the other job has ended), so the
    // sweep of the other job happens while it runs however fast or slow the machine is.
    const survivor = fx.job({ id: 'other-pilot', executable: '/bin/sh', args: ['-c', 'touch running; while [ ! -e go ]; do sleep 0.05; done; echo survived'], cwd: w1, stdout: join(w1, 'out'), identity: await fx.token({ sub: 'bob' }) });
    const other = exec(survivor, fx.policies.setuid);
    for (let i = 0; i < 600 && !existsSync(join(w1, 'running')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(w1, 'running'))).toBe(true);
    const w2 = fx.workdir(fx.users.b);
    const job = fx.job({ id: 'bg-shared', executable: join(FIX, 'background.sh'), cwd: w2, stdout: join(w2, 'out'), identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code, r.stderr).toBe(0);
    expect(userProcesses(fx.users.b.name)).not.toMatch(/sleep 30[012]/);
    writeFileSync(join(w1, 'go'), '');
    const o = await other;
    expect(o.result, o.stderr).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(readFileSync(join(w1, 'out'), 'utf8')).toContain('survived');
  });

  it('a tty job sees a /dev/pts terminal and its output goes to the stdout file', async () => {
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: 'tty', executable: '/bin/sh', args: ['-c', 'tty; test -t 1 && echo is-a-tty'], tty: true, cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code, r.stderr).toBe(0);
    const out = readFileSync(join(w, 'out'), 'utf8');
    expect(out).toMatch(/^\/dev\/pts\/\d+/m);
    expect(out).toContain('is-a-tty');
    // The channel secret typed into the terminal for the wrapper is not part of the job's output.
    expect(out).not.toMatch(/[0-9a-f]{64}/);
  });

  it('a stdout path the account may not write is held with EACCES, and the file is not touched', async () => {
    const target = join(fx.dir, 'root-owned');
    writeFileSync(target, 'precious\n', { mode: 0o644 });
    const job = fx.job({ id: 'stdio', executable: '/bin/true', stdout: target, identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'EACCES' } });
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it("the job's exit code is exec's exit code", async () => {
    const job = fx.job({ id: 'seven', executable: '/bin/sh', args: ['-c', 'exit 7'], identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(7);
    expect(r.result).toMatchObject({ state: 'failed', exitCode: 7 });
  });
});
