// The payload's stdio is opened by the payload's own side (issue 11, items 1 and 4): the wrapper,
// after the identity switch, as the mapped account. Real accounts, real sudo/runuser, the CLI.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeFixture, useNonRootPilot, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;

async function exec(job: string, policy: string) {
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json'], { source: true });
  return { ...r, result: JSON.parse(r.stdout || '{}') as Record<string, unknown> };
}

describe.skipIf(!IS_ROOT)("the payload's stdio", () => {
  beforeAll(async () => {
    fx = await makeFixture(['glstdioalice', 'glstdiobob']);
  });
  afterAll(() => fx?.cleanup());

  it.each(['stdin', 'stdout', 'stderr'] as const)('a FIFO as %s is held at once (NOT_A_FILE, no retry) instead of blocking its opener', async (field) => {
    const fifo = join(fx.workdir(fx.users.a), 'fifo');
    execFileSync('mkfifo', ['-m', '0666', fifo]);
    chownSync(fifo, fx.users.a.uid, fx.users.a.gid);
    const job = fx.job({ id: `fifo-${field}`, executable: '/bin/true', [field]: fifo, identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code, r.stderr).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'NOT_A_FILE', permanent: true } });
    expect(r.stderr).not.toContain('retrying launch');
  }, 60_000);

  it("stdin set to a root-only file is held with EACCES and the payload never reads it", async () => {
    const secret = join(fx.dir, 'root-secret');
    writeFileSync(secret, 'root-only-secret\n', { mode: 0o600 });
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: 'stdin-root', executable: '/bin/cat', stdin: secret, stdout: join(w, 'out'), cwd: w, identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.result).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'EACCES' } });
    expect(existsSync(join(w, 'out')) ? readFileSync(join(w, 'out'), 'utf8') : '').not.toContain('root-only-secret');
  });

  it('stdout and stderr on one file are both kept, and the file is created 0600 by the account', async () => {
    const w = fx.workdir(fx.users.b);
    const out = join(w, 'both');
    const job = fx.job({ id: 'both', executable: '/bin/sh', args: ['-c', 'echo to-out; echo to-err >&2; echo again'], stdout: out, stderr: out, cwd: w, identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['again', 'to-err', 'to-out']);
    expect(execFileSync('stat', ['-c', '%a %u', out]).toString().trim()).toBe(`600 ${fx.users.b.uid}`);
  });
});

/** A non-root pilot in helper mode names its own DPoP key as a job's stdin (issue 11, item 4). */
describe.skipIf(!IS_ROOT)('helper mode with a non-root pilot', () => {
  const made = useNonRootPilot(['glstdioalice', 'glstdiobob'], 'glstdiopilot');

  it("stdin set to the pilot's dpop-key is refused: the file is opened as the account, not as the pilot", async (ctx) => {
    const m = made();
    if (!m) return ctx.skip();
    const { fx, pilot } = m;
    const { uid, gid } = pilot.account;
    const cred = join(fx.dir, 'cred.d');
    mkdirSync(join(cred, 'pilot'), { recursive: true, mode: 0o700 });
    const key = join(cred, 'pilot', 'dpop-key');
    writeFileSync(key, 'PILOT-DPOP-PRIVATE-KEY\n', { mode: 0o600 });
    for (const p of [cred, join(cred, 'pilot'), key]) chownSync(p, uid, gid);
    // A directory both may write, so that only the stdin decides the outcome.
    const shared = join(fx.dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const out = join(shared, 'out');
    const job = fx.job({ id: 'dpop', executable: '/bin/cat', stdin: key, stdout: out, cwd: '/', identity: await fx.token({ sub: 'alice' }) });
    const r = await pilot.exec(job, pilot.policy());
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').not.toContain('PILOT-DPOP-PRIVATE-KEY');
    expect(r.code, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'EACCES' } });
  }, 60_000);
});
