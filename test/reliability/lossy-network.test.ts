// Lost answers do not kill pilots (issue 13 section 1): 200 pilots, each with the agent's real
// Refresher (same token and a new DPoP proof on retry), refresh 20 times through a lossy proxy
// that resets 5 % of connections before the service sees the request and drops 5 % of answers
// after the service committed them. 0 pilots lost, 0 double spends: at the end every family has
// exactly one live token, the one its pilot holds, and none is revoked.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseBundle } from '../../shared/protocol.ts';
import { silentLogger } from '../../shared/log.ts';
import { generateDpopKey } from '../../shared/dpop.ts';
import { registerPilot } from '../../refresh-service/index.ts';
import { Refresher } from '../../agent/pilot/refresher.ts';
import { createHttpClient } from '../../agent/pilot/http-client.ts';
import { sleep, startServiceProcess, type ServiceProcess } from './fixture.ts';
import { startLossyProxy, type LossyProxy } from './lossy-proxy.ts';

const PILOTS = 200;
const REFRESHES = 20;
/** A pilot gives up after this many failed attempts in a row (the agent's own bound is the C-CRED lifetime). */
const MAX_ATTEMPTS = 40;
let svc: ServiceProcess | undefined;
let proxy: LossyProxy | undefined;
afterAll(async () => {
  await proxy?.close();
  await svc?.cleanup();
});

const hash = (t: string) => createHash('sha256').update(t).digest('base64url');

interface PilotRun {
  id: string;
  refresher: Refresher;
  token: () => string;
  done: number;
  failures: number;
  lost: string | undefined;
}

async function makePilot(s: ServiceProcess, proxyBase: string, i: number): Promise<PilotRun> {
  const id = `lossy-${i}`;
  const bundle = parseBundle(await registerPilot({ stateDir: s.stateDir, config: s.config, glideinId: id, entry: 'LOSSY_CE', url: proxyBase }));
  let token = bundle.refreshToken;
  const store = {
    writePilot: (name: string, data: string) => {
      if (name === 'refresh-token') token = data;
    },
    writeIdtoken: () => undefined,
  };
  const refresher = new Refresher({
    bundle, key: await generateDpopKey(), store, log: silentLogger,
    http: createHttpClient({ bundleCa: undefined, env: {}, timeoutMs: 10_000 }),
  });
  return { id, refresher, token: () => token, done: 0, failures: 0, lost: undefined };
}

/** The agent's loop, compressed: refresh; on a retryable failure wait a little and refresh again. */
async function drive(p: PilotRun): Promise<void> {
  let attempts = 0;
  while (p.done < REFRESHES) {
    const out = await p.refresher.refresh();
    if (out.ok) {
      p.done++;
      attempts = 0;
      continue;
    }
    p.failures++;
    if (out.permanent || ++attempts >= MAX_ATTEMPTS) {
      p.lost = out.error.message;
      return;
    }
    // As the agent waits: what the answer asks (Retry-After, a stale proof's next second), else a little.
    await sleep(out.retryAfterMs ?? 20 + Math.random() * 80);
  }
}

describe('lossy network between pilots and the refresh service', () => {
  it('loses no pilot and spends no token twice when 5 % of connections reset before and 5 % of answers are lost after the commit', async () => {
    // DPoP proofs name the URL the pilot uses, and the service checks htu against its publicUrl:
    // the proxy's address is that URL. The proxy connects per connection, so its target port
    // is filled in once the service runs.
    const target = { port: 0 };
    proxy = await startLossyProxy(target, { before: 0.05, after: 0.05 });
    const proxyBase = `http://127.0.0.1:${proxy.port}`;
    svc = await startServiceProcess({ publicUrl: proxyBase });
    const s = svc;
    target.port = s.port;
    const pilots: PilotRun[] = [];
    for (let i = 0; i < PILOTS; i++) pilots.push(await makePilot(s, proxyBase, i));
    const started = performance.now();
    await Promise.all(pilots.map(drive));
    const seconds = (performance.now() - started) / 1000;

    const lost = pilots.filter((p) => p.lost !== undefined);
    const failures = pilots.reduce((n, p) => n + p.failures, 0);
    const regrants = s.log.filter((l) => l.includes('"outcome":"regranted"')).length;
    const reuse = s.log.filter((l) => l.includes('"outcome":"reuse_detected"')).length;
    console.info(`lossy network: ${PILOTS} pilots x ${REFRESHES} refreshes in ${seconds.toFixed(1)} s; ${proxy.stats.connections} connections, ${proxy.stats.resetsBefore} reset before the service, ${proxy.stats.dropsAfter} answers lost after the commit; ${failures} failed attempts retried; ${regrants} re-grants; ${reuse} reuse detections; ${lost.length} pilots lost`);
    expect(lost.map((p) => `${p.id}: ${p.lost}`)).toEqual([]);
    expect(proxy.stats.resetsBefore).toBeGreaterThan(0);
    expect(proxy.stats.dropsAfter).toBeGreaterThan(0);
    expect(regrants).toBeGreaterThan(0);
    expect(reuse).toBe(0);
    // No double spend: each family has exactly one live token, the one its pilot holds.
    const db = new DatabaseSync(join(s.stateDir, 'state.db'), { readOnly: true, timeout: 5000 });
    try {
      const live = new Map<string, string[]>();
      for (const r of db.prepare("SELECT glidein_id, hash FROM refresh_tokens WHERE spent_at IS NULL AND glidein_id LIKE 'lossy-%'").all()) {
        const id = r['glidein_id'] as string;
        live.set(id, [...(live.get(id) ?? []), r['hash'] as string]);
      }
      const wrong = pilots.filter((p) => JSON.stringify(live.get(p.id)) !== JSON.stringify([hash(p.token())]));
      expect(wrong.map((p) => p.id)).toEqual([]);
      const revoked = db.prepare("SELECT count(*) AS n FROM families WHERE revoked_at IS NOT NULL AND glidein_id LIKE 'lossy-%'").get() as { n: number };
      expect(revoked.n).toBe(0);
    } finally {
      db.close();
    }
    // And every pilot's token works (through the proxy, retried like any refresh).
    for (const p of pilots.slice(0, 20)) {
      p.done = REFRESHES - 1;
      await drive(p);
      expect(p.lost).toBeUndefined();
    }
  }, 240_000);
});
