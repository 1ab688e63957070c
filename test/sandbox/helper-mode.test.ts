// Helper mode against a local attacker (issue 11, items 2 and 10): another account that finds
// the wrapper's socket in /proc/net/unix and connects before the wrapper receives nothing and
// cannot make the agent believe the payload started; the helper, the wrapper and the payload
// get nothing of the pilot's own environment (_CONDOR_*, CONDOR_INHERIT, BEARER_TOKEN).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, chmodSync, chownSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT, type TestAccount } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { NODE } from '../helpers/paths.ts';
import { HELPER, makeFixture, skipHelperMode, useNonRootPilot, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;

/** The first socket under `dir` that shows up in /proc/net/unix (polled every 10 ms, 20 s at most). */
async function socketUnder(dir: string): Promise<string> {
  for (let i = 0; i < 2000; i++) {
    const hit = readFileSync('/proc/net/unix', 'utf8').split('\n').map((l) => l.trim().split(/\s+/).at(-1)!).find((p) => p.startsWith(`${dir}/`));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no socket under ${dir} appeared`);
}

/** As `who`: connect to `path`, send a fake secret, listen 2 s, hang up; what it got. */
function intrude(who: TestAccount, path: string): Promise<{ error?: string; received: number }> {
  const script = `const s = require('node:net').connect(${JSON.stringify(path)}); let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('error', (e) => { console.log(JSON.stringify({ error: e.code, received: n })); process.exit(0); });
    s.on('connect', () => { s.write('f'.repeat(64) + '\\n'); setTimeout(() => { s.end(); console.log(JSON.stringify({ received: n })); process.exit(0); }, 2000); });`;
  const p = spawn(NODE, ['-e', script], { uid: who.uid, gid: who.gid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((r) => p.on('close', () => r(JSON.parse(out) as { error?: string; received: number })));
}

/** A helper that waits 2 s before switching, so that an intruder is surely first. */
const slowHelper = (helper: string[]) => ['/bin/sh', '-c', 'sleep 2; exec "$@"', 'glslowhelper', ...helper];

/** A TMPDIR for the agent that only this test uses, so the socket it watches is this job's. */
function privateTmp(name: string, owner?: TestAccount): string {
  const t = join(fx.dir, name);
  mkdirSync(t);
  chmodSync(t, 0o711);
  if (owner) chownSync(t, owner.uid, owner.gid);
  return t;
}

async function raceJob(id: string) {
  const w = fx.workdir(fx.users.a);
  const job = fx.job({ id, executable: '/usr/bin/id', args: ['-u'], stdout: join(w, 'out'), cwd: w, identity: await fx.token({ sub: 'alice' }) });
  return { job, out: join(w, 'out') };
}

describe.skipIf(!IS_ROOT)('helper mode against a local attacker', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glhelpalice', 'glhelpbob']);
  });
  afterAll(() => fx?.cleanup());

  it('another account that connects to the wrapper socket first receives nothing, and the payload runs as the mapped account', async (ctx) => {
    if (skipHelperMode()) return ctx.skip();
    const tmp = privateTmp('tmp-race');
    const { job, out } = await raceJob('race');
    const run = runCli(['exec', '--job', job, '--policy', fx.policy({ identity: 'helper', helper: slowHelper(HELPER!) }), '--log-format', 'json'], { source: true, env: { ...process.env, TMPDIR: tmp } });
    const seen = await intrude(fx.users.b, await socketUnder(tmp));
    const r = await run;
    expect(seen.received).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'completed', uid: fx.users.a.uid });
    expect(readFileSync(out, 'utf8').trim()).toBe(String(fx.users.a.uid));
  }, 60_000);

  it("the helper, the wrapper and the payload inherit none of the pilot's _CONDOR_*, CONDOR_INHERIT or BEARER_TOKEN", async (ctx) => {
    if (skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const helperEnv = join(fx.dir, 'helper-env');
    const helper = ['/bin/sh', '-c', 'env > "$0"; exec "$@"', helperEnv, ...HELPER!];
    const job = fx.job({ id: 'env', executable: '/usr/bin/env', stdout: join(w, 'out'), cwd: w, identity: await fx.token({ sub: 'alice' }) });
    const pilotEnv = { _CONDOR_SCRATCH_DIR: '/pilot/scratch', _CONDOR_MACHINE_AD: '/pilot/ad', CONDOR_INHERIT: '123 <127.0.0.1:9618>', BEARER_TOKEN: 'pilot-bearer-token' };
    const r = await runCli(['exec', '--job', job, '--policy', fx.policy({ identity: 'helper', helper }), '--log-format', 'json'], { source: true, env: { ...process.env, ...pilotEnv } });
    expect(r.code, r.stderr).toBe(0);
    for (const text of [readFileSync(helperEnv, 'utf8'), readFileSync(join(w, 'out'), 'utf8')]) {
      expect(text).toMatch(/^PATH=/m);
      expect(text).not.toMatch(/^(_CONDOR_|CONDOR_INHERIT|BEARER_TOKEN=)/m);
      expect(text).not.toContain('pilot-bearer-token');
    }
  });
});

/** With a non-root pilot the socket must be connectable by anyone (0666): the secret alone decides. */
describe.skipIf(!IS_ROOT)('helper mode with a non-root pilot against a local attacker', () => {
  const made = useNonRootPilot(['glhelpalice', 'glhelpbob'], 'glhelppilot');

  it('another account that connects first receives nothing, and the payload runs as the mapped account', async (ctx) => {
    const m = made();
    if (!m) return ctx.skip();
    fx = m.fx;
    const { pilot } = m;
    const tmp = privateTmp('tmp-race-nonroot', pilot.account);
    const { job, out } = await raceJob('race-nonroot');
    const policy = fx.policy({ identity: 'helper', helper: slowHelper(['sudo', '-n', '-u', '{user}', '--']) });
    const run = pilot.exec(job, policy, { TMPDIR: tmp });
    const seen = await intrude(fx.users.b, await socketUnder(tmp));
    const r = await run;
    expect(seen).toEqual({ received: 0 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'completed', uid: fx.users.a.uid });
    expect(readFileSync(out, 'utf8').trim()).toBe(String(fx.users.a.uid));
  }, 60_000);
});
