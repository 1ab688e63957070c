// GET /readyz beside /healthz: ready while the state store answers and keys are loaded, 503
// naming the cause when the shared database goes away (while /healthz still answers); and the
// process, build and per-entry metrics on /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { VERSION } from '../../../shared/version.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../../helpers/postgres.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';
import { startPilot } from '../operator/pilot-driver.ts';

let sb: Sandbox;
beforeAll(async () => {
  sb = await makeSandbox();
});
afterAll(async () => sb?.cleanup());

const getJson = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('readiness and process metrics (SQLite)', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config(), listen: '127.0.0.1:0' });
  });
  afterAll(async () => svc?.close());

  it('answers ready with the store reachable and keys loaded', async () => {
    expect(await getJson(`${svc.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
    expect(await getJson(`${svc.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('exports process metrics, the build version and live pilots per entry', async () => {
    await startPilot(sb, svc.url, 'm-1', 'CE_M');
    await startPilot(sb, svc.url, 'm-2', 'CE_M');
    // The per-entry gauge is recounted by the minute timer; a restart counts at once.
    await svc.close();
    svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config(), listen: '127.0.0.1:0' });
    // Counted as the service starts; wait for that count rather than for a fixed time.
    let text = '';
    for (let i = 0; i < 100 && !/^glidein_refresh_live_pilots\{entry="CE_M"\} 2$/m.test(text); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      text = await (await fetch(`${svc.url}/metrics`)).text();
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_start_time_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)\\n${name} [0-9.e+]+$`, 'm'));
    }
    expect(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)![1])).toBeGreaterThan(1e6);
    expect(text).toContain(`glidein_build_info{version="${VERSION}"} 1`);
    expect(text).toMatch(/^glidein_refresh_live_pilots\{entry="CE_M"\} 2$/m);
    expect(text).toMatch(/^glidein_refresh_heartbeat_revocations_total 0$/m);
  });
});

describe.skipIf(skipWithoutPostgres())('readiness on a shared PostgreSQL database', () => {
  let pg: PgCluster;
  let svc: RunningService;
  beforeAll(async () => {
    pg = await startPostgres();
    process.env['PGPASSWORD'] = pg.password;
    svc = await startRefreshService({ stateDir: `${sb.dir}/state-pg`, config: sb.config({ database: await pg.createDatabase('readyz') }), listen: '127.0.0.1:0' });
  }, 120_000);
  afterAll(async () => {
    await svc?.close().catch(() => undefined);
    await pg?.stop();
  });

  it('turns not ready, naming the store, when the database stops, while /healthz stays ok', async () => {
    expect((await getJson(`${svc.url}/readyz`)).status).toBe(200);
    await pg.stop();
    // The store check runs at most once a second: wait for the answer to turn, 15 s at most.
    let r = await getJson(`${svc.url}/readyz`);
    for (let i = 0; i < 150 && r.status === 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await getJson(`${svc.url}/readyz`);
    }
    expect(r).toMatchObject({ status: 503, body: { status: 'not_ready' } });
    expect(String(r.body['reason'])).toMatch(/^state store (unreachable|did not answer)/);
    expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
