// The agent (`dist/glidein run`, one sleeping payload) survives a refresh-service outage shorter
// than its credentials' lifetime, covering its scheduled refresh, and refreshes after it; then,
// with the service gone for good, it drains when its C-CRED would expire: the payload's whole
// process group stopped, exit 1 with reason ccred-expired, credentials and work dir wiped.
// Durations: the 120 s credentials and 60 s outage with GLIDEIN_RELIABILITY_FULL=1;
// by default scaled by 1/6 (20 s credentials, 10 s outage) so CI stays short. The scheduling is
// relative (refresh at ~7/12 of the lifetime), so the scaled run exercises the same sequence.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPoolKeyFile, loadServiceConfig, registerPilot, startRefreshService, type RunningService, type ServiceConfig } from '../../refresh-service/index.ts';
import { createLogger } from '../../shared/log.ts';
import { EXE } from '../helpers/paths.ts';
import { freePort, sleep } from './fixture.ts';

const FULL = process.env['GLIDEIN_RELIABILITY_FULL'] === '1';
const LIFETIME_S = FULL ? 120 : 20;
const OUTAGE_S = FULL ? 60 : 10;
const dirs: string[] = [];
let svc: RunningService | undefined;
afterAll(async () => {
  await svc?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('agent through a service outage', () => {
  it(`survives a ${OUTAGE_S} s outage with ${LIFETIME_S} s credentials, then drains when the C-CRED would expire`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glidein-reliability-outage-'));
    dirs.push(dir);
    const keyFile = join(dir, 'POOL');
    await createPoolKeyFile(keyFile);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const base = await loadServiceConfig(undefined, { trustDomain: 'outage.test', poolSigningKeyFile: keyFile, publicUrl: url });
    // The config file's floor is 60 s; the service takes any lifetime, and the scaled run needs 20 s.
    const config: ServiceConfig = { ...base, idtokenLifetime: LIFETIME_S, scitokenLifetime: LIFETIME_S };
    const stateDir = join(dir, 'state');
    const served: { at: number; line: Record<string, unknown> }[] = [];
    const log = createLogger({ format: 'json', level: 'info', sink: { write: (l: string) => {
      try {
        served.push({ at: Date.now(), line: JSON.parse(l) as Record<string, unknown> });
      } catch {
        /* not JSON */
      }
      return true;
    } } });
    const start = async () => (svc = await startRefreshService({ stateDir, config, listen: `127.0.0.1:${port}`, log }));
    await start();
    const refreshes = () => served.filter((s) => s.line['msg'] === 'request' && s.line['path'] === '/v1/refresh' && s.line['status'] === 200);

    const bundle = await registerPilot({ stateDir, config, glideinId: 'outage-1', entry: 'OUTAGE_CE', url, lifetime: 3600 });
    const bundlePath = join(dir, 'bundle.json');
    writeFileSync(bundlePath, JSON.stringify(bundle), { mode: 0o600 });
    const work = join(dir, 'work');
    mkdirSync(work);
    const pidFile = join(dir, 'payload.pid');
    const agent = spawn(EXE, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${pidFile}; exec /bin/sleep 100000`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    agent.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => agent.on('close', (code) => r(code)));
    const failures = () => stderr.split('\n').filter((l) => l.includes('credential refresh failed')).length;

    // The first refresh binds the key; the next is due at ~7/12 of the lifetime (±10 %).
    await until('the first refresh', () => refreshes().length >= 1, 30_000);
    const t0 = refreshes()[0]!.at;
    await until('the payload', () => existsSync(pidFile), 10_000);
    const payloadPid = Number(readFileSync(pidFile, 'utf8'));
    // Outage: from OUTAGE_S before the earliest scheduled refresh (plus 1 s) until both OUTAGE_S
    // have passed and the agent has seen at least one refresh fail.
    await sleep(Math.max(0, t0 + (0.525 * LIFETIME_S - OUTAGE_S + 1) * 1000 - Date.now()));
    await svc!.close();
    svc = undefined;
    const down = Date.now();
    await until('a failed refresh during the outage', () => failures() >= 1 && Date.now() - down >= OUTAGE_S * 1000, (OUTAGE_S + 0.3 * LIFETIME_S) * 1000);
    await sleep(500);
    const outageS = (Date.now() - down) / 1000;
    expect(alive(payloadPid)).toBe(true);
    expect(agent.exitCode).toBeNull();
    const before = refreshes().length;
    await start();
    const up = Date.now();
    await until('a refresh after the outage', () => refreshes().length > before, 0.4 * LIFETIME_S * 1000);
    const recoveredAt = refreshes().at(-1)!.at;
    expect(alive(payloadPid)).toBe(true);
    expect(agent.exitCode).toBeNull();

    // Gone for good: the credentials just refreshed expire LIFETIME_S after that refresh.
    await svc!.close();
    svc = undefined;
    const code = await exited;
    const endedAt = Date.now();
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(code, stderr.slice(-3000)).toBe(1);
    expect(summary).toMatchObject({ reason: 'ccred-expired', jobs: { started: 1, killed: 1, running: 0 } });
    expect(endedAt).toBeGreaterThanOrEqual(recoveredAt + LIFETIME_S * 1000 - 1500);
    expect(stderr).toContain('C-CRED expired');
    expect(alive(payloadPid)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    console.info(`outage: ${outageS.toFixed(1)} s down (${failures()} failed refresh attempts), recovered ${((recoveredAt - up) / 1000).toFixed(1)} s after the restart; drained ${((endedAt - recoveredAt) / 1000).toFixed(1)} s after the last refresh (credentials ${LIFETIME_S} s)`);
  }, (FULL ? 400 : 120) * 1000);
});
