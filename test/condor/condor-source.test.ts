// `glidein run --condor` as a payload source (issue 14, items 1-3) with the stand-in master:
// caller mistakes before anything is created, the C-CRED in place before the master starts,
// retire and refusals as START's inputs through SIGHUP, a stop that leaves nothing.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { appendFileSync, mkdtempSync, writeFileSync, readFileSync, rmSync, realpathSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CondorSource } from '../../agent/condor/condor-source.ts';
import { condorFlag } from '../../agent/condor/index.ts';
import { writeWrapperEvent } from '../../agent/condor/wrapper-config.ts';
import { CredStore } from '../../agent/store/index.ts';
import { systemClock } from '../../agent/pilot/clock.ts';
import type { PayloadContext } from '../../agent/pilot/payload-source.ts';
import { hasEnded, readProcTable } from '../../agent/sandbox/process-sweep.ts';
import { silentLogger } from '../../shared/log.ts';
import type { Policy } from '../../agent/sandbox/index.ts';
import { isGlideinError } from '../../shared/errors.ts';
import { unsignedJwt } from '../helpers/jwt.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'condor');
let dir: string;
let workdir: string;

function ccred(): string {
  const now = Math.floor(Date.now() / 1000);
  return unsignedJwt({ iss: 'pool.example.org', sub: 'entry@pool.example.org', iat: now, exp: now + 3600, jti: 'a'.repeat(32), scope: 'condor:/READ condor:/ADVERTISE_STARTD condor:/ADVERTISE_MASTER' }, { alg: 'HS256', kid: 'POOL' });
}

function bundle(extra: Record<string, unknown> = {}, credentials = [{ type: 'idtoken', purpose: 'collector', token: ccred() }]): string {
  const path = join(dir, `bundle-${Math.random().toString(36).slice(2)}.json`);
  const b = {
    version: 1, glidein_id: 'g-1', entry: 'TEST_Entry', refresh_url: 'http://127.0.0.1:9/', refresh_token: 'r'.repeat(43), trust_domain: 'pool.example.org',
    credentials, expires_at: Math.floor(Date.now() / 1000) + 7200, collector: '127.0.0.1:9618', ...extra,
  };
  writeFileSync(path, JSON.stringify(b), { mode: 0o600 });
  return path;
}

async function context(withToken = true): Promise<PayloadContext> {
  const store = await CredStore.open(workdir, { log: silentLogger });
  if (withToken) await store.writeIdtoken('glidein-collector', ccred());
  return {
    workdir, env: { PATH: process.env['PATH'] }, store, log: silentLogger, clock: systemClock,
    validation: { status: 'OK', durationMs: 1, checks: [{ name: 'cores', status: 'pass', value: 2, required: null, detail: '', failure: null }], attributes: { GLIDEIN_CPUS: 2 } },
    credentials: () => [], signal: new AbortController().signal, onJobStart: () => undefined, onJobEnd: () => undefined,
  } as unknown as PayloadContext;
}

const record = () => join(workdir, 'condor', 'local', 'log', 'fixture.record');
const rec = () => (existsSync(record()) ? readFileSync(record(), 'utf8') : '');
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let t = 0; t < 15_000; t += 50) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; record:\n${rec()}`);
}

async function prepareError(p: Promise<unknown>, code: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isGlideinError(e) && e.code === code && e.exitCode === 2).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected ${code}`);
}

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'glcondor-source-')));
  workdir = join(dir, 'work');
  mkdirSync(workdir, { mode: 0o711 });
});
/** Sources a test started: stopped after it, so a failed test leaves no stand-in master behind. */
const started: CondorSource[] = [];
async function prepared(o: Parameters<typeof CondorSource.prepare>[0]): Promise<CondorSource> {
  const src = await CondorSource.prepare(o);
  started.push(src);
  return src;
}
afterEach(async () => {
  for (const src of started.splice(0)) await src.stop('pilot-shutdown', 5).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('glidein run --condor: the payload source', () => {
  it('refuses, before anything is created, a bundle without collector, with an injected setting, or without a C-CRED', async () => {
    const base = { bundlePath: '', condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' } };
    expect(await prepareError(CondorSource.prepare({ ...base, bundlePath: bundle({ collector: undefined }) }), 'GLIDEIN_ERR_BUNDLE')).toMatch(/collector/);
    expect(await prepareError(CondorSource.prepare({ ...base, bundlePath: bundle({ condor_config: { SEC_DEFAULT_AUTHENTICATION: 'NEVER' } }) }), 'GLIDEIN_ERR_BUNDLE')).toMatch(/SEC_DEFAULT_AUTHENTICATION/);
    expect(await prepareError(CondorSource.prepare({ ...base, bundlePath: bundle({ condor_config: { START: 'True) || (True' } }) }), 'GLIDEIN_ERR_BUNDLE')).toMatch(/START: the expression closes a parenthesis/);
    expect(await prepareError(CondorSource.prepare({ ...base, bundlePath: bundle({}, []) }), 'GLIDEIN_ERR_BUNDLE')).toMatch(/C-CRED/);
    expect(await prepareError(CondorSource.prepare({ ...base, condorDir: join(dir, 'nothing'), bundlePath: bundle() }), 'GLIDEIN_ERR_CONFIG')).toMatch(/no HTCondor found/);
    const setuid = { ...base, bundlePath: bundle(), policy: { identity: 'setuid', source: 'site.json' } as unknown as Policy };
    expect(await prepareError(CondorSource.prepare(setuid), 'GLIDEIN_ERR_POLICY')).toMatch(/setuid.*never runs a job wrapper as root.*helper/);
    expect(existsSync(join(workdir, 'condor'))).toBe(false);
  });

  it('does not start condor_master without a C-CRED in the token dir (HTCondor decides once, at start)', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' } });
    await expect(src.start(await context(false))).rejects.toThrow(/no C-CRED/);
    expect(existsSync(record())).toBe(false);
  });

  it('does not start condor_master when another token of the pool\'s issuer sorts before the C-CRED (HTCondor would send it)', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' } });
    const ctx = await context();
    await ctx.store.writeIdtoken('glidein-ce', ccred());
    await expect(src.start(ctx)).rejects.toThrow(/glidein-ce .*sorts before the C-CRED glidein-collector/);
    expect(existsSync(record())).toBe(false);
  });

  it('starts the master with the C-CRED in place; retire and a refusal reach START through SIGHUP; stop leaves nothing', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' }, pollMs: 100 });
    await src.start(await context());
    await until('the master to start', () => rec().includes('procd:'));
    expect(rec()).toContain('tokens-at-start: 1');
    expect(rec()).toContain('start: retired=False');
    const cfg = readFileSync(join(workdir, 'condor', 'condor_config'), 'utf8');
    expect(cfg).toContain(`SEC_TOKEN_DIRECTORY = ${join(workdir, 'cred.d', 'idtokens')}`);
    expect(cfg).toContain('COLLECTOR_HOST = 127.0.0.1:9618');

    // The job wrapper records a permanent launch error: the job and its submitter are refused here.
    writeWrapperEvent({ v: 1, policy: null, storeParent: '', events: join(workdir, 'condor', 'wrapper-events'), logFile: '', factsKey: '' }, 'condor-1.0-9', { event: 'start' });
    writeWrapperEvent({ v: 1, policy: null, storeParent: '', events: join(workdir, 'condor', 'wrapper-events'), logFile: '', factsKey: '' }, 'condor-1.0-9', { event: 'end', state: 'held', reason: 'UNMAPPED: no mapping', refuse: { job: 'schedd#1.0#17', user: 'mallory@example.org' } });
    await until('the refusal reconfig', () => rec().includes('refusedJobs="schedd#1.0#17" refusedUsers="mallory@example.org"'));
    expect(src.counts()).toMatchObject({ started: 1, held: 1, running: 0 });

    src.retire();
    await until('the retire reconfig', () => rec().includes('reconfig: retired=True'));
    await src.stop('pilot-shutdown', 15);
    expect(rec()).toContain('master: SIGTERM');
    expect(rec()).not.toContain('procd: SIGTERM');
    const procd = Number(/procd: (\d+)/.exec(rec())![1]);
    expect(readProcTable().some((p) => p.pid === procd && !hasEnded(p))).toBe(false);
    expect(src.summary()).toMatchObject({ version: '25.14.0', master: { code: 0 } });
    expect(rec()).not.toContain('advertise:');
  });

  it('stops the lingering master once the startd has left for good after retire: retired-and-empty', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' }, pollMs: 100 });
    await src.start(await context());
    await until('the master to start', () => rec().includes('procd:'));
    src.retire();
    await until('the retire reconfig', () => rec().includes('reconfig: retired=True'));
    // HTCondor 25.14: the startd exits 99 (STARTD.DAEMON_SHUTDOWN); its master stayed 5 min more.
    writeFileSync(join(workdir, 'condor', 'local', 'log', 'fixture.startd-exit'), '');
    expect(await src.done).toEqual({ kind: 'retired-and-empty' });
    expect(rec()).toContain('master: SIGTERM');
    expect(rec()).toContain('master: exiting (graceful)');
    expect(src.summary()).toMatchObject({ startd: { exit: 'EXITING WITH STATUS 99' } });
    // HTCondor 25.14's startd left its ads in the collector: the agent invalidates them, with the C-CRED still in place.
    await src.stop('max-lifetime', 15);
    const adverts = rec().split('\n').filter((l) => l.startsWith('advertise'));
    expect(adverts.filter((l) => l.startsWith('advertise: '))).toEqual(Array(2).fill(`advertise: INVALIDATE_STARTD_ADS config=${join(workdir, 'condor', 'condor_config')} tokens=1`));
    expect(adverts).toContain('advertise-ad: TargetType = "Machine"');
    expect(adverts).toContain('advertise-ad: TargetType = "StartD"');
    expect(adverts).toContain('advertise-ad: Requirements = regexp("(^|@)glidein_g-1@", Name)');
  });

  it('after a failed collector update, reconfigs the master so the startd authenticates again at once (at most once a minute)', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' }, pollMs: 50, rejoinDelayMs: 100 });
    await src.start(await context());
    await until('the master to start', () => rec().includes('procd:'));
    const startLog = join(workdir, 'condor', 'local', 'log', 'StartLog');
    appendFileSync(startLog, '11/30/26 08:39:35 Failed to start non-blocking update to <127.0.0.1:19618>.\n');
    await until('the rejoin reconfig', () => rec().includes('reconfig: retired=False'));
    // A second failure within the minute does not reconfig again.
    appendFileSync(startLog, '11/30/26 08:39:45 Failed to start non-blocking update to <127.0.0.1:19618>.\n');
    await new Promise((r) => setTimeout(r, 600));
    expect(rec().split('\n').filter((l) => l.startsWith('reconfig:'))).toHaveLength(1);
  });

  it('stops the master once an idle startd has left for good (STARTD_NOCLAIM_SHUTDOWN): idle-timeout', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' }, pollMs: 100 });
    await src.start(await context());
    await until('the master to start', () => rec().includes('procd:'));
    writeFileSync(join(workdir, 'condor', 'local', 'log', 'fixture.startd-exit'), '');
    expect(await src.done).toEqual({ kind: 'idle-timeout' });
  });

  it('ends on its own when the master exits (STARTD_NOCLAIM_SHUTDOWN): idle-timeout', async () => {
    const src = await prepared({ bundlePath: bundle(), condorDir: FIXTURE, idleTimeoutS: 60, env: { PATH: '/usr/bin:/bin' } });
    await src.start(await context());
    await until('the master to start', () => rec().includes('procd:'));
    writeFileSync(join(workdir, 'condor', 'local', 'log', 'fixture.exit'), '');
    expect(await src.done).toEqual({ kind: 'idle-timeout' });
  });
});

describe('the --condor flag', () => {
  it('takes an optional absolute DIR and leaves the rest of argv alone', () => {
    expect(condorFlag(['--bundle', 'b', '--condor'])).toEqual({ argv: ['--bundle', 'b'], condor: true, condorDir: undefined });
    expect(condorFlag(['--condor', '/opt/condor', '--bundle', 'b'])).toEqual({ argv: ['--bundle', 'b'], condor: true, condorDir: '/opt/condor' });
    expect(condorFlag(['--condor', '--bundle', 'b'])).toEqual({ argv: ['--bundle', 'b'], condor: true, condorDir: undefined });
    expect(condorFlag(['--condor=/x', '--', '--condor'])).toEqual({ argv: ['--', '--condor'], condor: true, condorDir: '/x' });
    expect(() => condorFlag(['--condor', 'relative'])).toThrow(/absolute/);
    expect(() => condorFlag(['--condor', '--condor'])).toThrow(/twice/);
  });
});
