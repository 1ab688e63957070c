// The refresh service over real HTTP on an ephemeral loopback port: rotation, reuse detection,
// DPoP refusals that spend nothing, bad input, rate limits, revocation, status, VO credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createDpopProof, generateDpopKey, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { parseBundle, parseRefreshResponse } from '../../shared/protocol.ts';
import { registerPilot, revokePilots, startRefreshService, type RunningService } from '../../refresh-service/index.ts';
import { hashRefreshToken } from '../../refresh-service/refresh-token.ts';
import { makeSandbox, postJson, refresh, type Sandbox } from './fixture.ts';

let sb: Sandbox;
let svc: RunningService;
let adminToken: string;
let seq = 0;

async function register(entry = 'CE_A', lifetime?: number) {
  const glideinId = `g-${++seq}-${randomBytes(3).toString('hex')}`;
  const bundle = await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId, entry, url: svc.url, ...(lifetime ? { lifetime } : {}) });
  return { glideinId, bundle, token: bundle.refresh_token };
}

/** Hashes of the unspent refresh tokens of a glidein, read from the state file (as an operator would). */
function liveTokenHashes(glideinId: string, stateDir = sb.stateDir): string[] {
  const db = new DatabaseSync(join(stateDir, 'state.db'), { timeout: 5000 });
  try {
    return db.prepare('SELECT hash FROM refresh_tokens WHERE glidein_id = ? AND spent_at IS NULL').all(glideinId).map((r) => r['hash'] as string);
  } finally {
    db.close();
  }
}

/** A hand-made proof: any header, claims and signing function (for the forged cases). */
function forge(header: Record<string, unknown>, claims: Record<string, unknown>, signer: (data: Buffer) => Buffer): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${h}.${p}.${signer(Buffer.from(`${h}.${p}`)).toString('base64url')}`;
}

function claimsNow(extra: Record<string, unknown> = {}) {
  return { htm: 'POST', htu: `${svc.url}/v1/refresh`, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'), ...extra };
}

beforeAll(async () => {
  sb = await makeSandbox();
  svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ rateLimit: { familyBurst: 50, familyPerMinute: 600, clientBurst: 100_000 } }), listen: '127.0.0.1:0' });
  adminToken = (await readFile(join(sb.stateDir, 'admin.token'), 'utf8')).trim();
});
afterAll(async () => {
  await svc?.close();
  await sb?.cleanup();
});

describe('refresh rotation', () => {
  it('registers a pilot whose bundle the agent side accepts', async () => {
    const { bundle } = await register();
    const parsed = parseBundle(bundle);
    expect(parsed.refreshToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(parsed.credentials.map((c) => `${c.type}/${c.purpose}`)).toEqual(['idtoken/collector', 'scitoken/vo-service']);
  });

  it('rotates on every refresh, and a spent refresh token revokes the whole family', async () => {
    const { token } = await register();
    const key = await generateDpopKey();
    const r1 = await refresh(svc.url, token, key);
    expect(r1.status).toBe(200);
    const first = parseRefreshResponse(r1.body);
    expect(first.refreshToken).not.toBe(token);
    expect(first.refreshAfter).toBeGreaterThan(Date.now() / 1000);
    const r2 = await refresh(svc.url, first.refreshToken, key);
    expect(r2.status).toBe(200);
    const second = parseRefreshResponse(r2.body);
    const r3 = await refresh(svc.url, second.refreshToken, key);
    expect(r3.status).toBe(200);
    const third = parseRefreshResponse(r3.body);
    // The first token again after its successor was used: theft signal, the family dies.
    const reuse = await refresh(svc.url, first.refreshToken, key);
    expect(reuse).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    const after = await refresh(svc.url, third.refreshToken, key);
    expect(after).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/glidein_refresh_token_reuse_total [1-9]/);
  });

  it('leaves exactly one live token when one token is refreshed twice at the same moment by the bound key', async () => {
    const { glideinId, token } = await register();
    const key = await generateDpopKey();
    const answers = await Promise.all([refresh(svc.url, token, key), refresh(svc.url, token, key)]);
    // The second is taken as a retry after a lost answer: both answered, the first successor superseded.
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const live = liveTokenHashes(glideinId);
    expect(live).toHaveLength(1);
    expect(answers.map((a) => hashRefreshToken(a.body['refresh_token'] as string))).toContain(live[0]);
  });

  it('settles many families refreshing at once, each rotation on its own', async () => {
    const pilots = await Promise.all(Array.from({ length: 12 }, async () => ({ ...(await register('CE_BATCH')), key: await generateDpopKey() })));
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(pilots.map((p) => refresh(svc.url, p.token, p.key)));
      answers.forEach((a, i) => {
        expect(a.status).toBe(200);
        pilots[i]!.token = a.body['refresh_token'] as string;
      });
    }
  });

  it('refuses an unknown refresh token with invalid_grant', async () => {
    const r = await refresh(svc.url, randomBytes(32).toString('base64url'), await generateDpopKey());
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
  });
});

describe('refused DPoP proofs neither spend nor revoke the token', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecJwk = ec.publicKey.export({ format: 'jwk' });
  const es256 = (d: Buffer) => sign('sha256', d, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  const cases: [string, (token: string, bound: DpopKey) => Promise<{ dpop?: string }>][] = [
    ['a proof from another key than the bound one', async () => ({ dpop: await createDpopProof(await generateDpopKey(), { htm: 'POST', htu: `${svc.url}/v1/refresh` }) })],
    ['a wrong htu', async (_t, k) => ({ dpop: await createDpopProof(k, { htm: 'POST', htu: 'https://elsewhere.example/v1/refresh' }) })],
    ['a wrong htm', async (_t, k) => ({ dpop: await createDpopProof(k, { htm: 'GET', htu: `${svc.url}/v1/refresh` }) })],
    ['an expired proof', async (_t, k) => ({ dpop: await createDpopProof(k, { htm: 'POST', htu: `${svc.url}/v1/refresh`, iat: Math.floor(Date.now() / 1000) - 600 }) })],
    ['a future-dated proof', async (_t, k) => ({ dpop: await createDpopProof(k, { htm: 'POST', htu: `${svc.url}/v1/refresh`, iat: Math.floor(Date.now() / 1000) + 600 }) })],
    ['alg none', async () => ({ dpop: `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: ecJwk })).toString('base64url')}.${Buffer.from(JSON.stringify(claimsNow())).toString('base64url')}.` })],
    ['HS256 keyed with the public key', async () => ({ dpop: forge({ alg: 'HS256', typ: 'dpop+jwt', jwk: ecJwk }, claimsNow(), (d) => createHmac('sha256', JSON.stringify(ecJwk)).update(d).digest()) })],
    ['a private key in the jwk header', async () => ({ dpop: forge({ alg: 'ES256', typ: 'dpop+jwt', jwk: ec.privateKey.export({ format: 'jwk' }) }, claimsNow(), es256) })],
    ['a wrong typ', async () => ({ dpop: forge({ alg: 'ES256', typ: 'JWT', jwk: ecJwk }, claimsNow(), es256) })],
    ['a bad signature', async () => ({ dpop: forge({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecJwk }, claimsNow(), () => randomBytes(64)) })],
    ['no DPoP header', async () => ({})],
    ['garbage in the DPoP header', async () => ({ dpop: 'not.a.proof' })],
  ];

  it.each(cases)('refuses %s with invalid_dpop_proof', async (_name, make) => {
    const { token } = await register();
    const key = await generateDpopKey();
    const bound = await refresh(svc.url, token, key);
    expect(bound.status).toBe(200);
    const current = bound.body['refresh_token'] as string;
    const { dpop } = await make(current, key);
    const r = await postJson(`${svc.url}/v1/refresh`, { refresh_token: current }, dpop === undefined ? {} : { dpop });
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
    // Still usable: not spent, family not revoked.
    expect((await refresh(svc.url, current, key)).status).toBe(200);
  });

  it.each([
    ['RS256 (2048 bits)', () => {
      const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return { alg: 'RS256', jwk: k.publicKey.export({ format: 'jwk' }), sign: (d: Buffer) => sign('sha256', d, k.privateKey) };
    }, 200],
    ['EdDSA (Ed25519)', () => {
      const k = generateKeyPairSync('ed25519');
      return { alg: 'EdDSA', jwk: k.publicKey.export({ format: 'jwk' }), sign: (d: Buffer) => sign(null, d, k.privateKey) };
    }, 200],
    ['RS256 with a 1024-bit key', () => {
      const k = generateKeyPairSync('rsa', { modulusLength: 1024 });
      return { alg: 'RS256', jwk: k.publicKey.export({ format: 'jwk' }), sign: (d: Buffer) => sign('sha256', d, k.privateKey) };
    }, 401],
  ])('answers a %s proof with %i', async (_name, make, expected) => {
    const { token } = await register();
    const k = make();
    const dpop = forge({ alg: k.alg, typ: 'dpop+jwt', jwk: k.jwk }, claimsNow(), k.sign);
    const r = await postJson(`${svc.url}/v1/refresh`, { refresh_token: token }, { dpop });
    expect(r.status).toBe(expected);
  });

  it('refuses a replayed jti without spending the token', async () => {
    const { token } = await register();
    const key = await generateDpopKey();
    const jti = randomBytes(12).toString('base64url');
    const r1 = await refresh(svc.url, token, key, { jti });
    expect(r1.status).toBe(200);
    const current = r1.body['refresh_token'] as string;
    const replay = await refresh(svc.url, current, key, { jti });
    expect(replay).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
    expect((await refresh(svc.url, current, key)).status).toBe(200);
  });

  it('accepts an htu that differs only in host case and default port', async () => {
    const { token } = await register();
    const key = await generateDpopKey();
    const r = await refresh(svc.url, token, key, { htu: htuOf(`${svc.url.replace('http', 'HTTP')}/v1/refresh?x=1`) });
    expect(r.status).toBe(200);
  });
});

describe('bad input never gives a 5xx', () => {
  const bodies: [string, string, Record<string, string>][] = [
    ['not JSON', '{"refresh_token":', {}],
    ['a JSON array', '[1,2]', {}],
    ['null', 'null', {}],
    ['a number token', '{"refresh_token": 5}', {}],
    ['a short token', '{"refresh_token": "abc"}', {}],
    ['a wrong content type', '{"refresh_token": "x"}', { 'content-type': 'text/plain' }],
    ['deep nesting', '['.repeat(5000) + ']'.repeat(5000), {}],
  ];
  it.each(bodies)('answers 400 to %s', async (_n, body, headers) => {
    const r = await postJson(`${svc.url}/v1/refresh`, body, headers);
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_request');
  });

  it('answers random bodies on every endpoint with a 4xx JSON error', async () => {
    for (const path of ['/v1/refresh', '/v1/status', '/v1/revoke', '/v1/vo-credentials/cms', '/nowhere', '/healthz']) {
      for (let i = 0; i < 15; i++) {
        const r = await fetch(`${svc.url}${path}`, { method: i % 3 === 0 ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', dpop: randomBytes(20).toString('base64url') }, body: randomBytes(1 + (i * 97) % 3000) });
        expect(r.status, `${path} #${i}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${path} #${i}`).toBeLessThan(500);
        expect(JSON.parse(await r.text())).toHaveProperty('error');
      }
    }
  });

  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400],
    ['headers over the size limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('answers %s with a JSON %i', async (_what, raw, status) => {
    const { connect } = await import('node:net');
    const got = await new Promise<string>((resolve, reject) => {
      const sock = connect(svc.port, '127.0.0.1', () => sock.write(raw));
      let text = '';
      sock.on('data', (d) => (text += d.toString()));
      sock.on('close', () => resolve(text));
      sock.on('error', reject);
    });
    expect(got.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    expect(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4))).toHaveProperty('error', 'invalid_request');
  });

  it('answers 413 to a declared body over 64 KiB without reading it', async () => {
    const r = await postJson(`${svc.url}/v1/refresh`, 'x'.repeat(70 * 1024));
    expect(r).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
  });

  it('answers 413 to a chunked body that grows past 64 KiB', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${svc.url}/v1/refresh`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && req.write(chunk)) sent++;
        if (sent < 40) req.once('drain', pump);
        else req.end();
      };
      pump();
    });
    expect(status).toBe(413);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once a family exceeds its burst, spending nothing', async () => {
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ rateLimit: { familyBurst: 2, familyPerMinute: 1 } }), listen: '127.0.0.1:0' });
    try {
      const b = await registerPilot({ stateDir: local.stateDir, config: local.config(), glideinId: 'rl-1', entry: 'CE', url: s.url });
      const key = await generateDpopKey();
      let token = b.refresh_token;
      for (let i = 0; i < 2; i++) token = (await refresh(s.url, token, key)).body['refresh_token'] as string;
      const limited = await refresh(s.url, token, key);
      expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another key (someone with a copy of the token) has its own bucket and cannot use the
      // pilot's; its proof is then refused as the wrong key, and the token is still not spent.
      expect((await refresh(s.url, token, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('global rate limit', () => {
  it('answers 429 with Retry-After once the whole service exceeds its burst, health checks excepted', async () => {
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ rateLimit: { globalBurst: 3, globalPerSecond: 1 } }), listen: '127.0.0.1:0' });
    try {
      // All five at once: the bucket refills one a second, so the burst must not depend on how
      // fast the machine sends them one after another.
      const statuses = (await Promise.all(Array.from({ length: 5 }, () => postJson(`${s.url}/v1/refresh`, { refresh_token: randomBytes(32).toString('base64url') })))).map((r) => r.status);
      expect(statuses.sort()).toEqual([401, 401, 401, 429, 429]);
      const limited = await postJson(`${s.url}/v1/refresh`, {});
      expect(limited.body['error']).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('revocation', () => {
  it('revokes one glidein by id from the state dir while the server runs', async () => {
    const a = await register('CE_REV1');
    const b = await register('CE_REV1');
    expect(await revokePilots({ stateDir: sb.stateDir, glideinId: a.glideinId })).toBe(1);
    const key = await generateDpopKey();
    expect((await refresh(svc.url, a.token, key)).body['error']).toBe('invalid_grant');
    expect((await refresh(svc.url, b.token, key)).status).toBe(200);
  });

  it('revokes every glidein of an entry through the admin endpoint', async () => {
    const a = await register('CE_REV2');
    const b = await register('CE_REV2');
    const other = await register('CE_REV3');
    const denied = await postJson(`${svc.url}/v1/revoke`, { entry: 'CE_REV2' }, { authorization: 'Bearer wrong' });
    expect(denied).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    const r = await postJson(`${svc.url}/v1/revoke`, { entry: 'CE_REV2' }, { authorization: `Bearer ${adminToken}` });
    expect(r).toMatchObject({ status: 200, body: { revoked: 2 } });
    for (const t of [a.token, b.token]) expect((await refresh(svc.url, t, await generateDpopKey())).body['error']).toBe('invalid_grant');
    expect((await refresh(svc.url, other.token, await generateDpopKey())).status).toBe(200);
  });

  it('caps credentials at the family lifetime and refuses the family once it is over', async () => {
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config(), listen: '127.0.0.1:0' });
    try {
      const b = await registerPilot({ stateDir: local.stateDir, config: local.config(), glideinId: 'short', entry: 'CE', url: s.url, lifetime: 60 });
      for (const c of b.credentials) expect(c['expires_at']).toBeLessThanOrEqual(b.expires_at);
      // The minute passes (written straight into the real state file, as another instance would).
      const db = new DatabaseSync(join(local.stateDir, 'state.db'), { timeout: 5000 });
      db.prepare('UPDATE families SET expires_at = ? WHERE glidein_id = ?').run(Math.floor(Date.now() / 1000) - 1, 'short');
      db.close();
      const r = await refresh(s.url, b.refresh_token, await generateDpopKey());
      expect(r).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      await expect(registerPilot({ stateDir: local.stateDir, config: local.config(), glideinId: 'short', entry: 'CE', url: s.url })).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STATE' });
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('status, VO credentials, discovery', () => {
  it('stores a status report signed by the bound key and refuses one from another key', async () => {
    const { glideinId, token } = await register();
    const key = await generateDpopKey();
    expect((await refresh(svc.url, token, key)).status).toBe(200);
    const url = `${svc.url}/v1/status`;
    const ok = await postJson(url, { glidein_id: glideinId, state: 'running', validation: { status: 'OK' } }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url }) });
    expect(ok).toMatchObject({ status: 200, body: { status: 'recorded' } });
    const bad = await postJson(url, { glidein_id: glideinId, state: 'running' }, { dpop: await createDpopProof(await generateDpopKey(), { htm: 'POST', htu: url }) });
    expect(bad).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
  });

  it("takes a pilot's final report ('exited') just after its family expired, and nothing else", async () => {
    const { glideinId, token } = await register();
    const key = await generateDpopKey();
    expect((await refresh(svc.url, token, key)).status).toBe(200);
    /** Move the family's end (the shortest lifetime register takes is 60 s). */
    const expireAgo = (s: number) => {
      const db = new DatabaseSync(join(sb.stateDir, 'state.db'), { timeout: 5000 });
      db.prepare('UPDATE families SET expires_at = ? WHERE glidein_id = ?').run(Math.floor(Date.now() / 1000) - s, glideinId);
      db.close();
    };
    const url = `${svc.url}/v1/status`;
    const post = async (state: string) => postJson(url, { glidein_id: glideinId, state }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url }) });
    expireAgo(2);
    expect(await post('running')).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    expect(await post('exited')).toMatchObject({ status: 200, body: { status: 'recorded' } });
    expireAgo(400);
    expect(await post('exited')).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
  });

  it('forwards the VO token pushed for a mapped entry and refuses an expired push', async () => {
    const local = await makeSandbox();
    const config = local.config({ voCredentials: { CE_VO: 'cms' } });
    const s = await startRefreshService({ stateDir: local.stateDir, config, listen: '127.0.0.1:0' });
    try {
      const admin = (await readFile(join(local.stateDir, 'admin.token'), 'utf8')).trim();
      const jwt = (exp: number) => `${Buffer.from('{"alg":"ES256","kid":"vo"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://vo.example', sub: 'pilot', exp })).toString('base64url')}.c2ln`;
      const put = (token: string, auth = admin) => fetch(`${s.url}/v1/vo-credentials/cms`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body: JSON.stringify({ token }) });
      expect((await put(jwt(Math.floor(Date.now() / 1000) - 10))).status).toBe(400);
      expect((await put(jwt(Math.floor(Date.now() / 1000) + 900), 'nope')).status).toBe(401);
      const voToken = jwt(Math.floor(Date.now() / 1000) + 900);
      expect((await put(voToken)).status).toBe(200);
      const b = await registerPilot({ stateDir: local.stateDir, config, glideinId: 'vo-1', entry: 'CE_VO', url: s.url });
      const r = await refresh(s.url, b.refresh_token, await generateDpopKey());
      const creds = parseRefreshResponse(r.body).credentials;
      expect(creds.find((c) => c.purpose === 'vo-service')?.token).toBe(voToken);
    } finally {
      await s.close();
      await local.cleanup();
    }
  });

  it('publishes the S-CRED key in the JWKS and the issuer in the OpenID configuration', async () => {
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const oidc = (await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc['issuer']).toBe(svc.url);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});

describe('connection limits', () => {
  it('accepts no more than maxConnections connections at once', async () => {
    const { connect } = await import('node:net');
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ maxConnections: 2 }), listen: '127.0.0.1:0' });
    const open = (): Promise<{ closedEarly: boolean; sock: import('node:net').Socket }> => new Promise((resolve) => {
      const sock = connect(s.port, '127.0.0.1');
      const timer = setTimeout(() => resolve({ closedEarly: false, sock }), 500);
      sock.on('close', () => {
        clearTimeout(timer);
        resolve({ closedEarly: true, sock });
      });
      sock.on('error', () => undefined);
    });
    try {
      const a = await open();
      const b = await open();
      const c = await open();
      expect([a.closedEarly, b.closedEarly, c.closedEarly]).toEqual([false, false, true]);
      for (const x of [a, b, c]) x.sock.destroy();
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('slow clients', () => {
  it('drops a client that never finishes its headers', async () => {
    const { connect } = await import('node:net');
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ headersTimeoutMs: 300, requestTimeoutMs: 600 }), listen: '127.0.0.1:0' });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = connect(s.port, '127.0.0.1', () => sock.write('POST /v1/refresh HTTP/1.1\r\nHost: x\r\n'));
        let got = '';
        sock.on('data', (d) => (got += d.toString()));
        sock.on('close', () => resolve(got));
        sock.on('error', reject);
        setTimeout(() => reject(new Error('still connected after 5 s')), 5000).unref();
      });
      expect(answer).toMatch(/^HTTP\/1\.1 4\d\d/);
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('silent connections', () => {
  it('frees the slot of a connection that never sends a byte and never closes, so such clients cannot fill maxConnections', async () => {
    const { connect } = await import('node:net');
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 3 }), listen: '127.0.0.1:0' });
    // Hostile clients: no request, and their own side never closed (allowHalfOpen), so only the
    // service can free their slots.
    const hostile = Array.from({ length: 3 }, () => connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true }).on('error', () => undefined));
    // The service hanging up on each is the event; waiting a fixed time would measure the machine.
    const hungUp = hostile.map((h) => new Promise<void>((r) => { h.once('end', () => r()); h.once('close', () => r()); h.resume(); }));
    try {
      await Promise.all(hungUp);
      const health = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(3000) });
      expect(health.status).toBe(200);
    } finally {
      for (const h of hostile) h.destroy();
      await s.close();
      await local.cleanup();
    }
  });
});

describe('TLS', () => {
  it('serves HTTPS with --tls-cert/--tls-key and ships the CA in the bundle', async () => {
    const { execFileSync } = await import('node:child_process');
    const https = await import('node:https');
    const local = await makeSandbox();
    const cert = join(local.dir, 'cert.pem');
    const key = join(local.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const config = local.config({ bundleCaFile: cert });
    const s = await startRefreshService({ stateDir: local.stateDir, config, listen: '127.0.0.1:0', tls: { cert, key } });
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const bundle = parseBundle(await registerPilot({ stateDir: local.stateDir, config, glideinId: 'tls-1', entry: 'CE', url: s.url }));
      expect(bundle.ca).toContain('BEGIN CERTIFICATE');
      const dkey = await generateDpopKey();
      const dpop = await createDpopProof(dkey, { htm: 'POST', htu: `${s.url}/v1/refresh` });
      const status = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ refresh_token: bundle.refreshToken });
        const req = https.request(`${s.url}/v1/refresh`, { method: 'POST', ca: bundle.ca, headers: { 'content-type': 'application/json', dpop } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

describe('persistence and logs', () => {
  it('remembers a used jti across a restart of the service', async () => {
    const local = await makeSandbox();
    const config = local.config();
    let s = await startRefreshService({ stateDir: local.stateDir, config, listen: '127.0.0.1:0' });
    try {
      const b = await registerPilot({ stateDir: local.stateDir, config, glideinId: 'jti-1', entry: 'CE', url: s.url });
      const key = await generateDpopKey();
      const jti = randomBytes(12).toString('base64url');
      const r1 = await refresh(s.url, b.refresh_token, key, { jti });
      expect(r1.status).toBe(200);
      await s.close();
      s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ publicUrl: s.url }), listen: `127.0.0.1:${s.port}` });
      const replay = await refresh(s.url, r1.body['refresh_token'] as string, key, { jti });
      expect(replay).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
    } finally {
      await s.close();
      await local.cleanup();
    }
  });

  it('logs one JSON line per request with glidein id, entry, outcome and latency, and never a token', async () => {
    const { createLogger } = await import('../../shared/log.ts');
    const { SqliteStateStore } = await import('../../refresh-service/state/sqlite-store.ts');
    const lines: string[] = [];
    const local = await makeSandbox();
    const config = local.config({ rotationGraceSeconds: 0 });
    const s = await startRefreshService({ stateDir: local.stateDir, config, listen: '127.0.0.1:0', log: createLogger({ format: 'json', sink: { write: (l: string) => lines.push(l) } }) });
    const secrets: string[] = [];
    try {
      const b = await registerPilot({ stateDir: local.stateDir, config, glideinId: 'log-1', entry: 'CE_LOG', url: s.url });
      secrets.push(b.refresh_token, ...b.credentials.map((c) => c['token'] as string));
      const key = await generateDpopKey();
      const r1 = await refresh(s.url, b.refresh_token, key);
      secrets.push(r1.body['refresh_token'] as string, ...(r1.body['credentials'] as { token: string }[]).map((c) => c.token));
      const url = `${s.url}/v1/status`;
      expect((await postJson(url, { glidein_id: 'log-1', state: 'running' }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url }) })).status).toBe(200);
      await refresh(s.url, b.refresh_token, key); // reuse
    } finally {
      await s.close();
    }
    const store = new SqliteStateStore(local.stateDir);
    expect(JSON.parse((await store.getStatus('log-1'))!.report)).toMatchObject({ glidein_id: 'log-1', state: 'running' });
    await store.close();
    await local.cleanup();
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = records.filter((r) => r['msg'] === 'request' && r['path'] === '/v1/refresh');
    expect(requests.map((r) => r['outcome'])).toEqual(['rotated', 'reuse_detected']);
    for (const r of requests) expect(r).toMatchObject({ glidein_id: 'log-1', entry: 'CE_LOG', latency_ms: expect.any(Number) });
    expect(records.some((r) => r['security'] === true && String(r['msg']).includes('revoked'))).toBe(true);
    const all = lines.join('');
    for (const secret of secrets) expect(all).not.toContain(secret);
  });
});

describe('signing key rotation', () => {
  it('signs with and publishes a key rotated by another process within about a second', async () => {
    const { rotateSigningKey } = await import('../../refresh-service/index.ts');
    const { decodeJwtUnverified } = await import('../../shared/jwt-decode.ts');
    const { token } = await register();
    const key = await generateDpopKey();
    const rotated = await rotateSigningKey(sb.stateDir);
    // The service picks the key up at its next look (about a second): wait for it to publish it.
    const kids = async () => ((await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    for (let i = 0; i < 150 && !(await kids()).includes(rotated.kid); i++) await new Promise((r) => setTimeout(r, 100));
    const r = await refresh(svc.url, token, key);
    const s = parseRefreshResponse(r.body).credentials.find((c) => c.purpose === 'vo-service')!;
    expect(decodeJwtUnverified(s.token).header['kid']).toBe(rotated.kid);
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(rotated.kid);
  });
});
