// `glidein run` end to end: the real refresh service on loopback with short lifetimes, the agent
// as a real process (the TypeScript entry), real payload processes.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf, waitFor, waitForLog } from '../fixtures/pilot/agent.ts';
import { opaqueToken, writeBundle } from '../fixtures/pilot/support.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { chmodSync, chownSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const scenarios = pilotScenarios();
const setup = scenarios.setup;
const ACCOUNT = 'glpilotjob';
afterAll(async () => {
  if (IS_ROOT) removeAccount(ACCOUNT);
  await scenarios.cleanup();
});

describe('glidein run', () => {
  it.concurrent('a payload outliving a 20 s C-CRED sees its IDTOKEN file replaced by a fresh valid one, across a short service outage', async () => {
    const { s, dir, work } = await setup(20);
    const bundle = await s.bundlePath('g-outlive');
    const out = join(dir, 'out');
    const script = `cat "$_CONDOR_SEC_TOKEN_DIRECTORY/glidein-collector" > ${out}.first; date +%s > ${out}.t1; sleep 26; cat "$_CONDOR_SEC_TOKEN_DIRECTORY/glidein-collector" > ${out}.second; date +%s > ${out}.t2`;
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', script]);
    await waitFor(`${out}.t1`, 60_000, agent);
    // An outage shorter than the credential's lifetime, covering the scheduled refresh: down
    // until the agent has seen a refresh fail (the event, not a guess at how long that takes).
    await s.stop();
    await waitForLog(agent, 'credential refresh failed', 1);
    await s.restart();
    const r = await agent.done;
    expect(r.code, r.stderr).toBe(0);
    const first = readFileSync(`${out}.first`, 'utf8');
    const second = readFileSync(`${out}.second`, 'utf8');
    expect(first.endsWith('\n') && second.endsWith('\n')).toBe(true);
    expect(second).not.toBe(first);
    // Each token was valid (signature, issuer, expiry) when the payload read it.
    const c1 = s.verifyIdtoken(first.trim(), Number(readFileSync(`${out}.t1`, 'utf8')));
    const c2 = s.verifyIdtoken(second.trim(), Number(readFileSync(`${out}.t2`, 'utf8')));
    expect(c2['exp'] as number).toBeGreaterThan(c1['exp'] as number);
    expect(c2['exp'] as number).toBeGreaterThan(Number(readFileSync(`${out}.t1`, 'utf8')) + 20);
    const summary = summaryOf(r.stdout);
    expect(summary).toMatchObject({ exitCode: 0, reason: 'command-exited', jobs: { completed: 1 } });
    expect(summary['refreshes'] as number).toBeGreaterThanOrEqual(2);
    expect(summary['refreshFailures'] as number).toBeGreaterThanOrEqual(1);
    // Nothing of the store or the work dir remains.
    expect(readdirSync(work)).toEqual([]);
    expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./);
  }, 90_000);

  it.concurrent('an outage longer than the C-CRED lifetime drains the pilot cleanly', async () => {
    const { s, dir, work } = await setup(20);
    const bundle = await s.bundlePath('g-outage');
    const started = join(dir, 'started');
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${started}.pid; touch ${started}; exec sleep 120`]);
    await waitFor(started, 60_000, agent);
    await s.stop();
    const r = await agent.done;
    expect(r.code, r.stderr).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 1, reason: 'ccred-expired', jobs: { killed: 1, running: 0 } });
    expect(r.stderr).toContain('C-CRED expired');
    const pid = Number(readFileSync(`${started}.pid`, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.concurrent('SIGTERM drains: the payload is stopped, the store wiped, exit 0', async () => {
    const { s, dir, work } = await setup(60);
    const bundle = await s.bundlePath('g-sigterm');
    const started = join(dir, 'started');
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${started}.pid; touch ${started}; exec sleep 120`]);
    await waitFor(started, 60_000, agent);
    const credDir = readdirSync(work).map((d) => join(work, d, 'cred.d'));
    expect(credDir.length).toBe(1);
    expect(existsSync(join(credDir[0]!, 'idtokens', 'glidein-collector'))).toBe(true);
    agent.child.kill('SIGTERM');
    const r = await agent.done;
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'signal', jobs: { killed: 1 } });
    const pid = Number(readFileSync(`${started}.pid`, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.concurrent('an empty spool ends the pilot at the idle timeout; --keep-workdir keeps the work dir but not the store', async () => {
    const { s, dir, work } = await setup(60);
    const bundle = await s.bundlePath('g-idle');
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ identity: 'none', allowPilotIdentity: true }));
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', policy, '--idle-timeout', '2', '--keep-workdir']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("spool jobs run as the pilot's own uid");
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'idle-timeout', validation: 'OK' });
    const kept = readdirSync(work);
    expect(kept).toHaveLength(1);
    expect(readdirSync(join(work, kept[0]!))).toEqual([]);
  }, 90_000);

  it.concurrent('a node failing the bundle requirements reports to the factory and exits 1 after the failure delay', async () => {
    const { s, dir, work } = await setup(60);
    const bundle = await s.bundlePath('g-fail');
    const wire = JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>;
    wire['requirements'] = ['cores=4096'];
    writeBundle(bundle, wire);
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/true']).done;
    expect(r.code, r.stderr).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 1, reason: 'validation-failed', validation: 'ERROR', heartbeats: { sent: 1, failed: 0 }, jobs: { started: 0 } });
    expect(readdirSync(work)).toEqual([]);
    void dir;
  }, 90_000);

  it.concurrent('a bundle whose credentials expired while it waited in the queue refreshes first, then validates and runs its payload', async () => {
    // 10 s credentials: short enough to expire in a test's queue wait, long enough to outlast a
    // validation and a payload start on a loaded machine.
    const { s, dir, work } = await setup(10, 10);
    const bundle = await s.bundlePath('g-stale');
    // The queue wait: both the C-CRED and the S-CRED of the bundle expire.
    await sleep(11_000);
    const out = join(dir, 'out');
    const script = `cat "$_CONDOR_SEC_TOKEN_DIRECTORY/glidein-collector" > ${out}.tok; date +%s > ${out}.t`;
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', script]).done;
    expect(r.code, r.stderr).toBe(0);
    const summary = summaryOf(r.stdout);
    expect(summary).toMatchObject({ exitCode: 0, reason: 'command-exited', validation: 'OK', jobs: { completed: 1 } });
    expect(summary['refreshes'] as number).toBeGreaterThanOrEqual(1);
    expect(r.stderr).toContain('the bundle credentials have expired');
    expect(r.stderr).not.toContain('ccred-expired');
    // The payload got a valid C-CRED, not the bundle's dead one.
    s.verifyIdtoken(readFileSync(`${out}.tok`, 'utf8').trim(), Number(readFileSync(`${out}.t`, 'utf8')));
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] stale bundle: start to first valid credentials ${String(summary['credentialsReadyMs'])} ms`);
  }, 90_000);

  it.concurrent('a stale bundle meeting a refresh service that is down waits for it, without ending as C-CRED expired, and runs once it is back', async () => {
    const { s, dir, work } = await setup(10, 10);
    const bundle = await s.bundlePath('g-stale-outage');
    await sleep(11_000);
    await s.stop();
    const ran = join(dir, 'ran');
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/usr/bin/touch', ran]);
    await waitForLog(agent, 'credential refresh failed', 3);
    expect(existsSync(ran)).toBe(false);
    await s.restart();
    const r = await agent.done;
    expect(r.code, r.stderr).toBe(0);
    const summary = summaryOf(r.stdout);
    expect(summary).toMatchObject({ exitCode: 0, reason: 'command-exited', jobs: { completed: 1 } });
    expect(summary['refreshFailures'] as number).toBeGreaterThanOrEqual(3);
    expect(existsSync(ran)).toBe(true);
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] stale bundle, service down for its first 3 refresh attempts: first valid credentials ${String(summary['credentialsReadyMs'])} ms after start`);
  }, 90_000);

  it.concurrent('under a batch system that ends the job soon, the pilot drains kill grace + margin before that end and exits 0', async () => {
    const { s, dir, work } = await setup(60);
    const bundle = await s.bundlePath('g-batch-end');
    const started = join(dir, 'started');
    // The job ends 50 s from now: drain at 50 - (20 s grace + 15 s margin) = 15 s.
    const endsAt = Math.floor(Date.now() / 1000) + 50;
    const t0 = Date.now();
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${started}.pid; touch ${started}; exec sleep 120`], { SLURM_JOB_END_TIME: String(endsAt) }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'batch-end', jobs: { killed: 1 } });
    // The drain deadline is the batch end less the 20 s kill grace and the 15 s margin (the log
    // says when; wall-clock bounds would only measure how loaded the machine is).
    const known = r.stderr.split('\n').find((l) => l.includes('batch system end known'));
    expect(JSON.parse(known!)).toMatchObject({ source: 'SLURM_JOB_END_TIME', endsAt, drainAt: endsAt - 35, reason: 'batch-end' });
    expect(Date.now() - t0).toBeGreaterThan(10_000);
    expect(() => process.kill(Number(readFileSync(`${started}.pid`, 'utf8')), 0)).toThrow();
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.concurrent('a bundle whose refresh family is dead ends with a clear message and exit 1, never running a payload', async () => {
    const { s, dir, work } = await setup(60);
    const bundle = await s.bundlePath('g-dead');
    const wire = JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>;
    wire['refresh_token'] = opaqueToken();
    writeBundle(bundle, wire);
    const ran = join(dir, 'ran');
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/usr/bin/touch', ran]).done;
    expect(r.code, r.stderr).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 1, reason: 'credentials-unobtainable', jobs: { started: 0 } });
    expect(r.stderr).toMatch(/refused this pilot's refresh token for good .*invalid_grant/);
    expect(existsSync(ran)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.concurrent('the bundle file loses its refresh token once the store holds it; a second pilot from the same file is refused (exit 2)', async () => {
    const { s, work } = await setup(60);
    const bundle = await s.bundlePath('g-scrub');
    const token = (JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>)['refresh_token'] as string;
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/true']).done;
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toContain(token);
    expect(JSON.parse(text)).toMatchObject({ glidein_id: 'g-scrub', refresh_token_moved_at: expect.any(Number) });
    expect(statSync(bundle).mode & 0o777).toBe(0o600);
    const again = await startAgent(['--bundle', bundle, '--workdir', work, '--', '/bin/true']).done;
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain('was already used by a pilot');
  }, 90_000);

  it.each([
    ['group-readable', 0o640, /readable or writable by group or others/],
    ['world-readable', 0o604, /readable or writable by group or others/],
  ])('refuses a %s bundle with exit 2 before touching anything', async (_n, mode, message) => {
    const dir = scenarios.tempDir('glidein-pilot-bad-');
    const bundle = join(dir, 'b.json');
    writeFileSync(bundle, '{}');
    writeBundle(bundle, {}, mode);
    const r = await startAgent(['--bundle', bundle, '--workdir', dir, '--', '/bin/true']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(dir)).toEqual(['b.json']);
  });

  it.runIf(IS_ROOT).concurrent('a spool job mapped to another account reads its own J-CRED but nothing else under the pilot\'s cred.d/', async () => {
    const account = ensureAccount(ACCOUNT);
    const { s, dir, work } = await setup(60);
    chmodSync(dir, 0o711);
    const bundle = await s.bundlePath('g-spool');
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { alice: ACCOUNT } });
    const outDir = join(dir, 'out');
    mkdirSync(outDir, { mode: 0o700 });
    chownSync(outDir, account.uid, account.gid);
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    const script = [
      'b="$BEARER_TOKEN_FILE"; jd=$(dirname "$b"); c=$(dirname "$(dirname "$jd")")',
      'try() { if cat "$1" >/dev/null 2>&1; then echo "$2:readable"; else echo "$2:denied"; fi; }',
      'lst() { if ls "$1" >/dev/null 2>&1; then echo "$2:listable"; else echo "$2:denied"; fi; }',
      'try "$b" own; lst "$jd" ownDir; lst "$c" credd; lst "$c/jobs" jobs; lst "$c/pilot" pilotDir; lst "$c/idtokens" idtokensDir',
      'for f in pilot/refresh-token pilot/dpop-key pilot/cred-vo-service idtokens/glidein-collector; do try "$c/$f" "$f"; done',
      'echo "credd=$c"; id -u',
    ].join('\n');
    writeFileSync(join(spool, 'job1.json'), JSON.stringify({
      id: 'job1', executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, 'out'), stderr: join(outDir, 'err'),
      limits: { wallclockSeconds: 60 }, identity: await site.identityToken('alice', 600),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('alice', 600) }],
    }));
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '2']).done;
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(spool, 'job1.result.json'), 'utf8')) as Record<string, unknown>;
    expect(result, readFileSync(join(outDir, 'err'), 'utf8')).toMatchObject({ id: 'job1', state: 'completed', exitCode: 0, uid: account.uid });
    expect(existsSync(join(spool, 'job1.done'))).toBe(true);
    expect(existsSync(join(spool, 'job1.json'))).toBe(false);
    const out = readFileSync(join(outDir, 'out'), 'utf8');
    expect(out).toContain(`credd=${work}/`);
    expect(out).toContain(`\n${account.uid}\n`);
    const seen = Object.fromEntries(out.split('\n').filter((l) => /^[\w/.-]+:\w+$/.test(l)).map((l) => l.split(':') as [string, string]));
    expect(seen).toEqual({
      own: 'readable', ownDir: 'listable', credd: 'denied', jobs: 'denied', pilotDir: 'denied', idtokensDir: 'denied',
      'pilot/refresh-token': 'denied', 'pilot/dpop-key': 'denied', 'pilot/cred-vo-service': 'denied', 'idtokens/glidein-collector': 'denied',
    });
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'idle-timeout', jobs: { started: 1, completed: 1 } });
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);
});
