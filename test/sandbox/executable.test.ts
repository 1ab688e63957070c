// The sandbox from the built single executable (dist/glidein): the wrapper is the executable
// itself (selfCommand), node-pty's addon comes from an SEA asset.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { EXE } from '../helpers/paths.ts';
import { makeFixture, skipHelperMode, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;

async function exec(job: string, policy: string) {
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json']);
  return { ...r, result: JSON.parse(r.stdout || '{}') as Record<string, unknown> };
}

describe.skipIf(!IS_ROOT || !existsSync(EXE))('glidein exec from the built executable', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glsbxexea', 'glsbxexeb']);
  });
  afterAll(() => fx?.cleanup());

  it.for(['setuid', 'helper'] as const)('runs the payload as the mapped account in %s mode', async (mode, ctx) => {
    if (mode === 'helper' && skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const job = fx.job({ id: `exe-${mode}`, executable: '/usr/bin/id', args: ['-u'], cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policies[mode]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ state: 'completed', uid: fx.users.a.uid });
    expect(readFileSync(join(w, 'out'), 'utf8').trim()).toBe(String(fx.users.a.uid));
  });

  it('holds a missing executable with ENOENT', async () => {
    const job = fx.job({ id: 'exe-missing', executable: '/nonexistent/payload', cwd: '/', identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'held', launchError: { stage: 'exec', code: 'ENOENT', permanent: true } });
  });

  it('runs a tty job on a /dev/pts terminal', async () => {
    const w = fx.workdir(fx.users.b);
    const job = fx.job({ id: 'exe-tty', executable: '/usr/bin/tty', tty: true, cwd: w, stdout: join(w, 'out'), identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policies.setuid);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(w, 'out'), 'utf8')).toMatch(/^\/dev\/pts\/\d+/);
  });
});
