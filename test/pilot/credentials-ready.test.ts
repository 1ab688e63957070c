// A stale bundle at start (issue 12 item 1): refresh first with backoff, bounded by the refresh
// family's lifetime; only invalid_grant or the family's end stops the pilot. Fake clock, a real
// loopback HTTP server as the refresh service.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Refresher } from '../../agent/pilot/refresher.ts';
import { awaitUsableCredentials, type CredentialsReady } from '../../agent/pilot/credentials-ready.ts';
import { createHttpClient, type HttpClient } from '../../agent/pilot/http-client.ts';
import { generateDpopKey } from '../../shared/dpop.ts';
import { parseBundle } from '../../shared/protocol.ts';
import { silentLogger } from '../../shared/log.ts';
import { CredStore } from '../../agent/store/index.ts';
import { FakeClock, bundleWire, json, opaqueToken, scriptedServer, testJwt } from '../fixtures/pilot/support.ts';

let dir: string;
let http: HttpClient;
let srv: Awaited<ReturnType<typeof scriptedServer>>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-ready-'));
  http = createHttpClient({ bundleCa: undefined, env: {} });
});
afterEach(async () => {
  await http.close();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

function answer(nowS: number) {
  return {
    refresh_token: opaqueToken(),
    credentials: [
      { type: 'idtoken', purpose: 'collector', token: testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + 600, jti: 'b'.repeat(32) }) },
      { type: 'scitoken', purpose: 'vo-service', token: testJwt({ iss: 'https://vo.test', sub: 'p', exp: nowS + 1200 }, { alg: 'ES256', kid: 'k' }) },
    ],
    refresh_after: nowS + 300,
  };
}

async function setup(c: FakeClock, o: { ccredS: number; scredS?: number; lifetimeS?: number }) {
  const nowS = Math.floor(c.now() / 1000);
  const bundle = parseBundle(bundleWire({ refreshUrl: srv.url, nowS, ccredLifetimeS: o.ccredS, scredLifetimeS: o.scredS ?? 3600, lifetimeS: o.lifetimeS ?? 3600 }));
  const store = await CredStore.open(dir);
  const refresher = new Refresher({ bundle, key: await generateDpopKey(), store, http, log: silentLogger, clock: c, random: () => 0.5 });
  await refresher.install();
  return { bundle, refresher };
}

/** Run `p` to its end, moving the fake clock to each timer it sets while it waits. */
async function drive<T>(c: FakeClock, p: Promise<T>): Promise<{ value: T; waitedMs: number }> {
  const t0 = c.now();
  let done = false;
  let value!: T;
  void p.then((v) => {
    done = true;
    value = v;
  });
  while (!done) {
    await new Promise((r) => setTimeout(r, 5));
    const next = c.timers.sort((a, b) => a.at - b.at)[0];
    if (next) c.advance(next.at - c.now());
  }
  return { value, waitedMs: c.now() - t0 };
}

function ready(c: FakeClock, refresher: Refresher, familyExpiresAt: number, signal = new AbortController().signal): Promise<CredentialsReady> {
  return awaitUsableCredentials({ refresher, clock: c, log: silentLogger, familyExpiresAt, minUsableS: 30, signal });
}

describe('awaitUsableCredentials', () => {
  it('refreshes a bundle whose C-CRED expired in the queue, retrying through an outage until the service answers', async () => {
    const c = new FakeClock();
    let calls = 0;
    srv = await scriptedServer((_req, res) => (++calls <= 3 ? json(res, 503, { error: 'server_error', error_description: 'down' }) : json(res, 200, answer(Math.floor(c.now() / 1000)))));
    const { bundle, refresher } = await setup(c, { ccredS: -3600 });
    const { value, waitedMs } = await drive(c, ready(c, refresher, bundle.expiresAt));
    expect(value).toEqual({ ok: true, refreshed: true });
    expect(calls).toBe(4);
    // three backoffs of the usual schedule (1 s, 2 s, 4 s ceilings, half each with random 0.5)
    expect(waitedMs).toBeGreaterThanOrEqual(3_000);
    expect(waitedMs).toBeLessThan(10_000);
    expect(refresher.usableForMs()).toBeGreaterThan(500_000);
  });

  it('treats an S-CRED about to expire like an expired one', async () => {
    const c = new FakeClock();
    let calls = 0;
    srv = await scriptedServer((_req, res) => (++calls === 1 ? json(res, 502, {}) : json(res, 200, answer(Math.floor(c.now() / 1000)))));
    const { bundle, refresher } = await setup(c, { ccredS: 3600, scredS: 10 });
    const { value } = await drive(c, ready(c, refresher, bundle.expiresAt));
    expect(value).toEqual({ ok: true, refreshed: true });
    expect(calls).toBe(2);
  });

  it('goes on with still-valid bundle credentials when the first refresh fails (the schedule retries)', async () => {
    const c = new FakeClock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { bundle, refresher } = await setup(c, { ccredS: 3600 });
    const { value, waitedMs } = await drive(c, ready(c, refresher, bundle.expiresAt));
    expect(value).toEqual({ ok: true, refreshed: false });
    expect(waitedMs).toBe(0);
  });

  it('ends with a clear message when the service refuses the token for good (invalid_grant)', async () => {
    const c = new FakeClock();
    srv = await scriptedServer((_req, res) => json(res, 401, { error: 'invalid_grant', error_description: 'the refresh family is revoked' }));
    const { bundle, refresher } = await setup(c, { ccredS: -60 });
    const { value } = await drive(c, ready(c, refresher, bundle.expiresAt));
    expect(value).toMatchObject({ ok: false, why: 'family-dead' });
    expect((value as { message: string }).message).toMatch(/invalid_grant.*expired, revoked or was reused/);
  });

  it('keeps trying for as long as the refresh family lives, then ends', async () => {
    const c = new FakeClock();
    srv = await scriptedServer((_req, res) => void res.destroy());
    const { bundle, refresher } = await setup(c, { ccredS: -60, scredS: -60, lifetimeS: 600 });
    const { value, waitedMs } = await drive(c, ready(c, refresher, bundle.expiresAt));
    expect(value).toMatchObject({ ok: false, why: 'family-expired' });
    expect(waitedMs).toBeGreaterThanOrEqual(600_000);
    expect(waitedMs).toBeLessThan(600_000 + 1_000);
  });

  it('stops waiting at a drain signal', async () => {
    const c = new FakeClock();
    srv = await scriptedServer((_req, res) => json(res, 503, {}));
    const { bundle, refresher } = await setup(c, { ccredS: -60 });
    const abort = new AbortController();
    const p = ready(c, refresher, bundle.expiresAt, abort.signal);
    while (c.timers.length === 0) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await p).toMatchObject({ ok: false, why: 'aborted' });
  });
});
