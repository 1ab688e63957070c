// The router's limits and cheap endpoints over real HTTP: an address that keeps being refused is
// refused before any crypto while honest pilots (other addresses, or accepted requests from the
// same one) are not slowed; /metrics costs no database work and can be admin-only.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDpopProof, generateDpopKey, htuOf } from '../../../shared/dpop.ts';
import { registerPilot, startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { makeSandbox, refresh, type Sandbox } from '../fixture.ts';

let sb: Sandbox | undefined;
let svc: RunningService | undefined;
afterEach(async () => {
  await svc?.close();
  await sb?.cleanup();
  svc = undefined;
  sb = undefined;
});

async function start(extra: Record<string, unknown>) {
  sb = await makeSandbox();
  svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config(extra), listen: '127.0.0.1:0' });
  return { sb, svc };
}

/** POST from a chosen loopback source address (127.0.0.2 is another client than 127.0.0.1). */
function postFrom(localAddress: string, url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('per-client-address rate limit', () => {
  it('refuses an address after its burst of refusals, before any crypto, while honest pilots refresh on', async () => {
    const { sb, svc } = await start({ rateLimit: { clientPerSecond: 1, clientBurst: 3, familyBurst: 100 } });
    const bundle = await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: 'honest', entry: 'CE', url: svc.url });
    const key = await generateDpopKey();
    let token = bundle.refresh_token;
    const attacker = await generateDpopKey();
    const url = `${svc.url}/v1/refresh`;
    // The first refresh binds the family; the attacker's key is then the wrong one.
    token = (await refresh(svc.url, token, key)).body['refresh_token'] as string;
    // One after another (refusals charge the bucket, so they cannot overlap), with the proofs
    // made beforehand: the bucket refills one a second, so the six should take far less.
    const proofs = await Promise.all(Array.from({ length: 6 }, () => createDpopProof(attacker, { htm: 'POST', htu: htuOf(url) })));
    const statuses: number[] = [];
    for (const dpop of proofs) statuses.push((await postFrom('127.0.0.2', url, JSON.stringify({ refresh_token: token }), { dpop })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    // Honest requests are never charged: ten in a row from 127.0.0.1 with a burst of three.
    for (let i = 0; i < 10; i++) {
      const r = await refresh(svc.url, token, key);
      expect(r.status).toBe(200);
      token = r.body['refresh_token'] as string;
    }
  });
});

describe('/metrics', () => {
  it('answers from counters kept in memory: a scrape touches no state', async () => {
    const { sb, svc } = await start({});
    const before = await (await fetch(`${svc.url}/metrics`)).text();
    expect(before).toContain('glidein_refresh_active_families 0');
    // A family registered now shows at the next recount (once a minute), not at this scrape.
    await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: 'm-1', entry: 'CE', url: svc.url });
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(sb.stateDir, 'state.db'), { timeout: 5000 });
    db.exec('ALTER TABLE families RENAME TO families_away'); // any query on families fails now
    try {
      const r = await fetch(`${svc.url}/metrics`, { signal: AbortSignal.timeout(3000) });
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/glidein_refresh_active_families 0\n[\s\S]*glidein_refresh_regrants_total 0\n[\s\S]*glidein_refresh_heartbeat_revocations_total 0/);
    } finally {
      db.exec('ALTER TABLE families_away RENAME TO families');
      db.close();
    }
  });

  it('needs the admin bearer token with metricsRequireAdmin', async () => {
    const { sb, svc } = await start({ metricsRequireAdmin: true });
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } })).status).toBe(401);
    const admin = (await readFile(join(sb.stateDir, 'admin.token'), 'utf8')).trim();
    const ok = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('glidein_refresh_requests_total');
  });
});
