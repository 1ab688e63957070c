// GET /v1/pilots and GET /v1/entries: the operator views over HTTP, admin bearer token only;
// pilots carry their validation verdict and node (kept after later heartbeats), entries their
// refresh counts and black-hole flags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService } from '../../../refresh-service/index.ts';
import { ensureAdminToken } from '../../../refresh-service/state-dir.ts';
import { type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { refreshAgain, report, startPilot, validationBody } from '../operator/pilot-driver.ts';

let sb: Sandbox;
let svc: RunningService;
let admin: string;

async function get(path: string, token = admin): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
  admin = await ensureAdminToken(sb.stateDir);
  // CE_BAD: three pilots fail validation on wn1, one passes on wn2. CE_GOOD: two pass.
  for (const [id, entry, node, fail] of [
    ['bad-1', 'CE_BAD', 'wn1.example.org', true], ['bad-2', 'CE_BAD', 'wn1.example.org', true], ['bad-3', 'CE_BAD', 'wn1.example.org', true],
    ['bad-4', 'CE_BAD', 'wn2.example.org', false], ['good-1', 'CE_GOOD', 'wn9.example.org', false], ['good-2', 'CE_GOOD', 'wn9.example.org', false],
  ] as const) {
    const p = await startPilot(sb, svc.url, id, entry);
    expect((await report(svc.url, p, validationBody(node, fail ? { check: 'cvmfs', failure: 'VO_Config' } : undefined))).status).toBe(200);
    if (!fail) {
      expect((await refreshAgain(svc.url, p)).status).toBe(200);
      expect((await report(svc.url, p, { state: 'running' })).status).toBe(200);
    }
  }
});
afterAll(() => stopSandboxService(svc, sb));

describe('operator API', () => {
  it('refuses both views without the admin bearer token', async () => {
    for (const path of ['/v1/pilots', '/v1/entries']) {
      expect((await get(path, 'not-the-token')).status).toBe(401);
      expect((await fetch(`${svc.url}${path}`)).status).toBe(401);
    }
  });

  it('lists pilots with binding, refresh, heartbeat, pilot state, validation verdict and node, filtered by entry and status', async () => {
    const all = (await get('/v1/pilots')).body['pilots'] as Record<string, unknown>[];
    expect(all.map((p) => p['glidein_id'])).toEqual(['bad-1', 'bad-2', 'bad-3', 'bad-4', 'good-1', 'good-2']);
    const bad1 = all[0]!;
    expect(bad1).toMatchObject({ entry: 'CE_BAD', status: 'live', bound: true, pilot_state: 'validation-failed', validation: 'ERROR', failed_check: 'cvmfs', failure: 'VO_Config', node: 'wn1.example.org', revoked_reason: null });
    expect(typeof bad1['last_refresh']).toBe('number');
    // A heartbeat after the validation report replaced the report, not the verdict.
    expect(all[4]).toMatchObject({ pilot_state: 'running', validation: 'OK', node: 'wn9.example.org' });
    const good = (await get('/v1/pilots?entry=CE_GOOD')).body['pilots'] as Record<string, unknown>[];
    expect(good.map((p) => p['glidein_id'])).toEqual(['good-1', 'good-2']);
    expect((await get('/v1/pilots?status=revoked')).body['pilots']).toEqual([]);
    expect((await get('/v1/pilots?q=wn2')).body['pilots']).toMatchObject([{ glidein_id: 'bad-4' }]);
    expect(await get('/v1/pilots?status=asleep')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('flags an entry and a node whose pilots keep failing validation as black holes, with refresh counts per entry', async () => {
    const entries = (await get('/v1/entries')).body['entries'] as Record<string, unknown>[];
    expect(entries.map((e) => e['entry'])).toEqual(['CE_BAD', 'CE_GOOD']);
    expect(entries[0]).toMatchObject({
      pilots: { live: 4 }, failed_validation: { hour: 3, day: 3 }, revoked: { hour: 0, day: 0 },
      refreshes: { ok: 5, failed: 0, success_ratio: 1 }, top_failure: 'VO_Config', top_failure_node: 'wn1.example.org',
      black_hole: true, black_hole_nodes: ['wn1.example.org'],
    });
    expect(entries[1]).toMatchObject({ failed_validation: { day: 0 }, refreshes: { ok: 4, failed: 0 }, black_hole: false, black_hole_nodes: [], top_failure: null });
  });
});
