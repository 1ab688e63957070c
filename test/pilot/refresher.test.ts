// The refresher against a real loopback HTTP server, with an injectable clock for schedules.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { Refresher, REFRESH_FRACTION, REFRESH_JITTER, parseRetryAfter, type RefresherEvent } from '../../agent/pilot/refresher.ts';
import { createHttpClient, type HttpClient } from '../../agent/pilot/http-client.ts';
import { generateDpopKey } from '../../shared/dpop.ts';
import { parseBundle, STALE_PROOF_DESCRIPTION, WRONG_KEY_DESCRIPTION } from '../../shared/protocol.ts';
import { silentLogger } from '../../shared/log.ts';
import { GlideinError } from '../../shared/errors.ts';
import { CredStore } from '../../agent/store/index.ts';
import { freePort } from '../helpers/net.ts';
import { FakeClock, bundleWire, json, opaqueToken, scriptedServer, testJwt } from '../fixtures/pilot/support.ts';

let dir: string;
let http: HttpClient;
let srv: Awaited<ReturnType<typeof scriptedServer>>;
const clock = () => new FakeClock();

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-refresher-'));
  http = createHttpClient({ bundleCa: undefined, env: {} });
});
afterEach(async () => {
  await http.close();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

function freshAnswer(nowS: number, ccredS = 60, scredS = 120) {
  return {
    refresh_token: opaqueToken(),
    credentials: [
      { type: 'idtoken', purpose: 'collector', token: testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + ccredS, jti: 'a'.repeat(32) }) },
      { type: 'scitoken', purpose: 'vo-service', token: testJwt({ iss: 'https://vo.test', sub: 'p', exp: nowS + scredS }, { alg: 'ES256', kid: 'k' }) },
    ],
    refresh_after: nowS + Math.floor(ccredS / 2),
  };
}

async function setup(c: FakeClock, opts: { random?: () => number; ccredS?: number; scredS?: number; lifetimeS?: number; urls?: string[] } = {}) {
  const nowS = Math.floor(c.now() / 1000);
  const bundle = parseBundle(bundleWire({ refreshUrl: opts.urls ?? srv.url, nowS, ccredLifetimeS: opts.ccredS ?? 60, ...(opts.scredS ? { scredLifetimeS: opts.scredS } : {}), ...(opts.lifetimeS ? { lifetimeS: opts.lifetimeS } : {}) }));
  const store = await CredStore.open(dir);
  const key = await generateDpopKey();
  const events: RefresherEvent[] = [];
  const r = new Refresher({ bundle, key, store, http, log: silentLogger, clock: c, random: opts.random ?? (() => 0.5), onEvent: (e) => events.push(e) });
  await r.install();
  return { bundle, store, key, r, events, nowS };
}

describe('Refresher', () => {
  it('sends the refresh token with a DPoP proof for the refresh URL, signed by the node key', async () => {
    const c = clock();
    let answer: unknown;
    srv = await scriptedServer((_req, res) => json(res, 200, answer));
    const { r, key, bundle, nowS } = await setup(c);
    answer = freshAnswer(nowS);
    const out = await r.refresh();
    expect(out.ok).toBe(true);
    const req = srv.requests[0]!;
    expect(req.url).toBe('/v1/refresh');
    expect(JSON.parse(req.body)).toEqual({ refresh_token: bundle.refreshToken });
    const proof = req.headers['dpop'] as string;
    expect(decodeProtectedHeader(proof)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    const { payload } = await jwtVerify(proof, createLocalJWKSet({ keys: [key.publicJwk] }), { currentDate: new Date(c.now()) });
    expect(payload).toMatchObject({ htm: 'POST', htu: `${srv.url}/v1/refresh` });
    // The private key never travels: only the public members are in the proof's header.
    expect(Object.keys(decodeProtectedHeader(proof).jwk!).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });

  it('persists the new refresh token and writes the C-CRED into cred.d/idtokens in HTCondor layout', async () => {
    const c = clock();
    let answer: ReturnType<typeof freshAnswer> | undefined;
    srv = await scriptedServer((_req, res) => json(res, 200, answer));
    const { r, store, nowS } = await setup(c);
    answer = freshAnswer(nowS);
    expect((await r.refresh()).ok).toBe(true);
    expect((await store.readPilot('refresh-token')).toString()).toBe(answer.refresh_token);
    const file = readFileSync(join(store.idtokenDir, 'glidein-collector'), 'utf8');
    expect(file).toBe(answer.credentials[0]!.token + '\n');
    expect(r.ccred()!.token).toBe(answer.credentials[0]!.token);
    expect((await store.readPilot('cred-vo-service')).toString()).toBe(answer.credentials[1]!.token);
  });

  it('names a CE-CRED (or any other IDTOKEN) after the C-CRED so it never sorts before it in cred.d/idtokens', async () => {
    const c = clock();
    let answer: ReturnType<typeof freshAnswer> | undefined;
    srv = await scriptedServer((_req, res) => json(res, 200, answer));
    const { r, store, nowS } = await setup(c);
    answer = freshAnswer(nowS);
    const ce = testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + 60, jti: 'b'.repeat(32) });
    answer.credentials.push({ type: 'idtoken', purpose: 'ce', token: ce });
    expect((await r.refresh()).ok).toBe(true);
    const names = readdirSync(store.idtokenDir).filter((n) => !n.startsWith('.')).sort();
    expect(names).toEqual(['glidein-collector', 'glidein-collector-ce']);
    expect(readFileSync(join(store.idtokenDir, 'glidein-collector-ce'), 'utf8')).toBe(ce + '\n');
  });

  it('shares one in-flight request among concurrent callers', async () => {
    const c = clock();
    let answer: unknown;
    srv = await scriptedServer((_req, res) => {
      setTimeout(() => json(res, 200, answer), 50);
    });
    const { r, nowS } = await setup(c);
    answer = freshAnswer(nowS);
    const outs = await Promise.all([r.refresh(), r.refresh(), r.refresh()]);
    expect(srv.requests).toHaveLength(1);
    expect(outs.map((o) => o.ok)).toEqual([true, true, true]);
    expect(new Set(outs.map((o) => o.seq)).size).toBe(1);
  });

  it.each([
    ['lowest jitter', 0],
    ['no jitter', 0.5],
    ['highest jitter', 0.999999],
  ])('schedules the next refresh inside 1/2–2/3 of the shortest remaining lifetime (%s)', async (_n, rnd) => {
    const c = clock();
    let answer: unknown;
    srv = await scriptedServer((_req, res) => json(res, 200, answer));
    const { r, nowS } = await setup(c, { random: () => rnd });
    answer = { ...freshAnswer(nowS, 40, 120), refresh_after: nowS + 1 };
    await r.refresh();
    r.start();
    const next = c.timers.find((t) => t.delay > 1000 && t.delay < 40_000)!;
    expect(next).toBeDefined();
    const expected = 40_000 * REFRESH_FRACTION * (1 + (rnd * 2 - 1) * REFRESH_JITTER);
    expect(next.delay).toBeCloseTo(expected, 0);
    expect(next.delay).toBeGreaterThanOrEqual(40_000 / 2);
    expect(next.delay).toBeLessThanOrEqual((40_000 * 2) / 3);
    r.stop();
  });

  it('honours 429 Retry-After and keeps the current credentials meanwhile', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 429, { error: 'rate_limited', error_description: 'slow down' }, { 'retry-after': '17' }));
    const { r, events } = await setup(c, { random: () => 0 });
    const before = r.ccred()!.token;
    r.start();
    const out = await r.refresh();
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.status).toBe(429);
      expect(out.permanent).toBe(false);
      expect(out.error.code).toBe('GLIDEIN_ERR_REFRESH');
    }
    const failed = events.find((e) => e.type === 'refresh-failed');
    expect(failed).toMatchObject({ type: 'refresh-failed', status: 429, retryInMs: 17_000 });
    expect(r.ccred()!.token).toBe(before);
    r.stop();
  });

  it('backs off exponentially with full jitter on server errors', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { r, events } = await setup(c, { random: () => 0.999 });
    r.start();
    for (let i = 0; i < 4; i++) await r.refresh();
    const waits = events.filter((e) => e.type === 'refresh-failed').map((e) => (e as { retryInMs: number }).retryInMs);
    expect(waits).toHaveLength(4);
    waits.forEach((w, i) => {
      expect(w).toBeLessThanOrEqual(1000 * 2 ** i);
      expect(w).toBeGreaterThan(1000 * 2 ** i * 0.9);
    });
    r.stop();
  });

  it('never backs off past what is left of the credentials: a service back before expiry is reached in time', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { r, events } = await setup(c, { random: () => 0.999, ccredS: 3600, scredS: 7200, lifetimeS: 86400 });
    r.start();
    // Eight failures early on: the exponential ceiling alone is now 120 s.
    for (let i = 0; i < 8; i++) await r.refresh();
    // Much later only 20 s of C-CRED remain: every wait must leave room to try again before expiry.
    c.t += 3_580_000;
    for (let i = 0; i < 3; i++) await r.refresh();
    const waits = events.filter((e) => e.type === 'refresh-failed').map((e) => (e as { retryInMs: number }).retryInMs);
    expect(waits[7]).toBeGreaterThan(60_000);
    for (const w of waits.slice(8)) expect(w).toBeLessThanOrEqual(20_000 / 4);
    r.stop();
  });

  it('treats invalid_grant as permanent: no retry, the family is dead', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 401, { error: 'invalid_grant', error_description: 'spent' }));
    const { r, events } = await setup(c);
    r.start();
    const pending = c.timers.length;
    const out = await r.refresh();
    expect(out.ok).toBe(false);
    expect(r.dead).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'refresh-failed', permanent: true, retryInMs: null });
    // the scheduled refresh timer was the only refresh timer; none was added
    expect(c.timers.length).toBeLessThanOrEqual(pending);
    r.stop();
  });

  it('retries after a network failure and survives an outage while the credentials are valid', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => void res.destroy());
    const { r, events, nowS } = await setup(c, { random: () => 0.5 });
    r.start();
    const out = await r.refresh();
    expect(out.ok).toBe(false);
    expect(r.ccredExpired).toBe(false);
    srv.setResponder((_req, res) => json(res, 200, freshAnswer(nowS + 5)));
    const again = await r.refresh();
    expect(again.ok).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['refresh-failed', 'refreshed']);
    r.stop();
  });

  it('reports C-CRED expiry when no fresh one arrived in time', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { r, events } = await setup(c, { ccredS: 30 });
    r.start();
    c.advance(29_000);
    expect(events.some((e) => e.type === 'ccred-expired')).toBe(false);
    c.advance(2_000);
    expect(events.some((e) => e.type === 'ccred-expired')).toBe(true);
    expect(r.ccredExpired).toBe(true);
    r.stop();
  });

  it('fails over on a connection error and a 5xx to the next refresh URL, and sticks to the one that answered', async () => {
    const c = clock();
    const downPort = await freePort();
    const failing = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'overloaded' }));
    let nowS = 0;
    srv = await scriptedServer((_req, res) => json(res, 200, freshAnswer(nowS)));
    try {
      const s = await setup(c, { urls: [`http://127.0.0.1:${downPort}`, failing.url, srv.url] });
      nowS = s.nowS;
      expect((await s.r.refresh()).ok).toBe(true);
      expect(failing.requests).toHaveLength(1);
      expect(srv.requests).toHaveLength(1);
      // The proof names the instance it was sent to.
      const { payload } = await jwtVerify(srv.requests[0]!.headers['dpop'] as string, createLocalJWKSet({ keys: [s.key.publicJwk] }), { currentDate: new Date(c.now()) });
      expect(payload['htu']).toBe(`${srv.url}/v1/refresh`);
      expect(s.r.refreshUrl).toBe(`${srv.url}/v1/refresh`);
      // Sticky: the next refresh goes straight to the instance that answered.
      expect((await s.r.refresh()).ok).toBe(true);
      expect(failing.requests).toHaveLength(1);
      expect(srv.requests).toHaveLength(2);
      s.r.stop();
    } finally {
      await failing.close();
    }
  });

  it('retries the one invalid_grant that means a newer refresh of the token was answered (issue 26 item 7)', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 401, { error: 'invalid_grant', error_description: STALE_PROOF_DESCRIPTION }));
    const { r, events } = await setup(c);
    r.start();
    const out = await r.refresh();
    expect(out.ok).toBe(false);
    expect(r.dead).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'refresh-failed', permanent: false });
    expect((events.at(-1) as { retryInMs: number | null }).retryInMs).toBeGreaterThan(0);
    // Not before the next whole second: a proof of this one would be stale again.
    expect(out.ok === false && out.retryAfterMs).toBe(1000 - (c.now() % 1000) + 50);
    r.stop();
  });

  it.each([
    ['a family bound to another key (a used copy of the bundle)', 401, { error: 'invalid_dpop_proof', error_description: WRONG_KEY_DESCRIPTION }, 'wrong-key'],
    ['a 404 from the refresh URL', 404, { error: 'not_found', error_description: 'no such endpoint' }, 'not-found'],
  ] as const)('names %s as a permanent refusal of its own (issue 26 item 4)', async (_what, status, body, refusal) => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, status, body));
    const { r } = await setup(c);
    expect(await r.refresh()).toMatchObject({ ok: false, permanent: true, status, refusal });
    expect(r.dead).toBe(true);
  });

  it('keeps other invalid_dpop_proof answers retryable (a replayed jti, a clock outside the window)', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 401, { error: 'invalid_dpop_proof', error_description: 'DPoP proof jti was used before' }));
    const { r } = await setup(c);
    const out = await r.refresh();
    expect(out).toMatchObject({ ok: false, permanent: false, status: 401 });
    expect(out.ok === false && out.refusal).toBeFalsy();
  });

  it('does not fail over on a 4xx: invalid_grant from the instance in use is the answer', async () => {
    const c = clock();
    const other = await scriptedServer((_req, res) => json(res, 200, {}));
    srv = await scriptedServer((_req, res) => json(res, 401, { error: 'invalid_grant', error_description: 'revoked' }));
    try {
      const { r } = await setup(c, { urls: [srv.url, other.url] });
      const out = await r.refresh();
      expect(out).toMatchObject({ ok: false, permanent: true, status: 401 });
      expect(other.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('arms no C-CRED expiry watch before start(): expired bundle credentials are not an expiry', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { r, events } = await setup(c, { ccredS: -60 });
    await new Promise((res) => setImmediate(res));
    c.advance(60_000);
    expect(events.some((e) => e.type === 'ccred-expired')).toBe(false);
    expect(r.ccredExpired).toBe(false);
    expect(r.usableForMs()).toBeLessThan(0);
    r.stop();
  });

  it('backs off after a failure with expired credentials by the family lifetime, not at the floor', async () => {
    const c = clock();
    srv = await scriptedServer((_req, res) => json(res, 503, { error: 'server_error', error_description: 'down' }));
    const { r } = await setup(c, { ccredS: -60, scredS: -60, lifetimeS: 86_400, random: () => 0.999 });
    for (let i = 0; i < 6; i++) await r.refresh();
    // six failures: the exponential ceiling is 32 s; expired credentials must not shrink it to 250 ms
    expect(r.backoffMs(undefined)).toBeGreaterThan(30_000);
    r.stop();
  });

  it.each([
    ['delta seconds', '5', 5000],
    ['an HTTP date', new Date(1_900_000_010_000).toUTCString(), 10_000],
    ['garbage', 'soon', undefined],
  ])('parses Retry-After given as %s', (_n, v, ms) => {
    expect(parseRetryAfter(v, 1_900_000_000_000)).toBe(ms);
  });

  it('a store that cannot keep an answer (ENOSPC) stops refreshing until it can write, then presents the token it held in memory', async () => {
    // The disk itself is real in test/pilot/disk-full.test.ts (root only); here the store's
    // write fails as it does there, so any account runs this.
    const c = clock();
    let answer = freshAnswer(0);
    srv = await scriptedServer((_req, res) => json(res, 200, answer));
    const nowS = Math.floor(c.now() / 1000);
    const bundle = parseBundle(bundleWire({ refreshUrl: srv.url, nowS, ccredLifetimeS: 60 }));
    const store = await CredStore.open(dir);
    let full = false;
    const enospc = (path: string) => new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot write (ENOSPC)`, { details: { path, errno: 'ENOSPC' } });
    const fullStore = {
      pilotDir: store.pilotDir,
      writePilot: (name: string, data: string, exp: number | null) => (full ? Promise.reject(enospc(join(store.pilotDir, name))) : store.writePilot(name, data, exp)),
      writeIdtoken: (name: string, jwt: string) => (full ? Promise.reject(enospc(join(store.idtokenDir, name))) : store.writeIdtoken(name, jwt)),
    };
    const events: RefresherEvent[] = [];
    const r = new Refresher({ bundle, key: await generateDpopKey(), store: fullStore, http, log: silentLogger, clock: c, random: () => 0.5, onEvent: (e) => events.push(e) });
    await r.install();
    r.start();
    answer = freshAnswer(nowS);
    full = true;
    const failed = await r.refresh();
    expect(failed).toMatchObject({ ok: false, storage: { reason: 'disk-full', errno: 'ENOSPC', dir: store.pilotDir } });
    expect(events.filter((e) => e.type === 'store-failed')).toEqual([{ type: 'store-failed', reason: 'disk-full', dir: store.pilotDir, errno: 'ENOSPC' }]);
    expect(r.storeFailure?.reason).toBe('disk-full');
    const held = answer.refresh_token;
    // No retry scheduled, and an explicit refresh sends nothing while the store is full.
    c.advance(3_600_000);
    expect((await r.refresh())).toMatchObject({ ok: false, storage: { reason: 'disk-full' } });
    expect(srv.requests).toHaveLength(1);
    // Space again: the held successor goes to disk first, then the refresh presents it.
    full = false;
    answer = freshAnswer(nowS);
    expect((await r.refresh()).ok).toBe(true);
    expect(srv.requests).toHaveLength(2);
    expect(JSON.parse(srv.requests[1]!.body)).toEqual({ refresh_token: held });
    expect((await store.readPilot('refresh-token')).toString()).toBe(answer.refresh_token);
    expect(r.storeFailure).toBeUndefined();
    r.stop();
  });
});
