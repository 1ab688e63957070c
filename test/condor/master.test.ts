// Supervising condor_master (issue 14, item 3) with the stand-in master of test/fixtures/condor:
// its own session, a clean environment, SIGHUP for reconfig, and a stop that signals the master
// only (condor_procd lives in its process group), escalates, and leaves nothing behind.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, realpathSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MasterProcess, masterEnv } from '../../agent/condor/master.ts';
import { hasEnded, readProcTable } from '../../agent/sandbox/process-sweep.ts';
import { silentLogger } from '../../shared/log.ts';

const MASTER = join(import.meta.dirname, '..', 'fixtures', 'condor', 'sbin', 'condor_master');
let dir: string;
let config: string;
let state: string;
let record: string;

function writeState(lines: string): void {
  writeFileSync(state, lines);
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; record:\n${existsSync(record) ? readFileSync(record, 'utf8') : '(none)'}`);
}
const rec = () => (existsSync(record) ? readFileSync(record, 'utf8') : '');

function start(env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] }) {
  return MasterProcess.start({ master: MASTER, configFile: config, env, outputFile: join(dir, 'master.out'), cwd: dir, log: silentLogger });
}

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'glcondor-master-')));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'tokens', 'glidein-collector'), 'x.y.z\n');
  config = join(dir, 'condor_config');
  state = join(dir, 'state.config');
  record = join(dir, 'log', 'fixture.record');
  writeFileSync(config, `LOG = ${join(dir, 'log')}\nSEC_TOKEN_DIRECTORY = ${join(dir, 'tokens')}\nLOCAL_CONFIG_FILE = ${state}\n`);
  writeState('GLIDEIN_Retired = False\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('condor_master supervision', () => {
  it('starts the master in its own session with our CONDOR_CONFIG and no inherited _CONDOR_* or CONDOR_INHERIT', async () => {
    const m = await start({ PATH: process.env['PATH'], _CONDOR_SEC_PASSWORD_FILE: '/etc/evil', CONDOR_INHERIT: '1234 <1.2.3.4:5>', _condor_LOG: '/tmp', BEARER_TOKEN: 'secret' });
    await until('the master to start', () => rec().includes('procd:'));
    const me = readProcTable().find((p) => p.pid === m.pid)!;
    expect(me.sid).toBe(m.pid);
    expect(rec()).toContain(`env: CONDOR_CONFIG=${config}`);
    expect(rec()).not.toMatch(/_CONDOR_SEC|CONDOR_INHERIT|_condor_LOG/i);
    expect(rec()).toContain('tokens-at-start: 1');
    await m.stop(15, 'test');
  });

  it('passes a reconfig to the master as SIGHUP, which rereads the state config', async () => {
    const m = await start();
    await until('the master to start', () => rec().includes('procd:'));
    writeState('GLIDEIN_Retired = True\nGLIDEIN_RefusedJobs = "s#1.0#2"\n');
    expect(m.reconfig()).toBe(true);
    await until('the reconfig', () => rec().includes('reconfig: retired=True refusedJobs="s#1.0#2"'));
    await m.stop(15, 'test');
  });

  it('stops with SIGTERM to the master only: condor_procd in its process group gets no signal, and nothing is left', async () => {
    const m = await start();
    await until('the master to start', () => rec().includes('procd:'));
    const exit = await m.stop(15, 'pilot-shutdown');
    expect(exit).toMatchObject({ code: 0, spawnError: null });
    expect(rec()).toContain('master: SIGTERM');
    expect(rec()).toContain('master: exiting (graceful)');
    expect(rec()).not.toContain('procd: SIGTERM');
    expect(readProcTable().filter((p) => p.sid === m.pid && !hasEnded(p))).toEqual([]);
  });

  it('escalates to SIGQUIT after the kill grace when the master does not stop on SIGTERM', async () => {
    writeState('FIXTURE_MASTER_IGNORE_TERM = 1\n');
    const m = await start();
    await until('the master to start', () => rec().includes('procd:'));
    const t0 = Date.now();
    await m.stop(1, 'pilot-shutdown');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(rec()).toMatch(/master: SIGTERM[\s\S]*master: SIGQUIT[\s\S]*master: exiting \(fast\)/);
    expect(readProcTable().filter((p) => p.sid === m.pid && !hasEnded(p))).toEqual([]);
  });

  it('sweeps what the master left behind in its session', async () => {
    const m = await start();
    await until('the master to start', () => rec().includes('procd:'));
    const procd = Number(/procd: (\d+)/.exec(rec())![1]);
    // The master "crashes": SIGKILL leaves its procd orphaned in the session.
    process.kill(m.pid, 'SIGKILL');
    await m.exited;
    expect(readProcTable().some((p) => p.pid === procd && !hasEnded(p))).toBe(true);
    expect(await m.sweep()).toBeGreaterThan(0);
    // Once sweep() resolves it runs no more: gone, or a zombie left for its new parent to reap.
    expect(readProcTable().some((p) => p.pid === procd && !hasEnded(p))).toBe(false);
  });

  it('builds the master environment from nothing of another HTCondor', () => {
    const env = masterEnv({ PATH: '/bin', _CONDOR_X: '1', CONDOR_INHERIT: '2', CONDOR_CONFIG: '/etc/condor/condor_config', LD_PRELOAD: 'x.so', GLIDEIN_SECRET: 's', HOME: '/h' }, '/w/condor_config', 'm');
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', CONDOR_CONFIG: '/w/condor_config', GLIDEIN_JOB_MARK: 'm' });
  });
});
