// POST /v1/refresh over real HTTP: a spent token is a kill switch only in the bound key's hands
// (issue 11 item 11), and a lost answer does not kill the pilot (issue 13 section 1): within
// rotationGraceSeconds the bound key may ask again with the same token and a new proof.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateDpopKey, type DpopKey } from '../../../shared/dpop.ts';
import { registerPilot, startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { makeSandbox, refresh, type Sandbox } from '../fixture.ts';
import { STALE_PROOF_DESCRIPTION } from '../../../shared/protocol.ts';

let sb: Sandbox;
let svc: RunningService;

beforeAll(async () => {
  sb = await makeSandbox();
  svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ rotationGraceSeconds: 60 }), listen: '127.0.0.1:0' });
});
afterAll(async () => {
  await svc?.close();
  await sb?.cleanup();
});

/** A registered pilot that has made its first refresh (bound to `key`); `first` is the bundle's (now spent) token. */
async function boundPilot(service = svc, sandbox = sb): Promise<{ first: string; current: string; key: DpopKey }> {
  const bundle = await registerPilot({ stateDir: sandbox.stateDir, config: sandbox.config(), glideinId: `g-${randomBytes(4).toString('hex')}`, entry: 'CE_A', url: service.url });
  const key = await generateDpopKey();
  const r = await refresh(service.url, bundle.refresh_token, key);
  expect(r.status).toBe(200);
  return { first: bundle.refresh_token, current: r.body['refresh_token'] as string, key };
}

const tokenOf = (r: { body: Record<string, unknown> }) => r.body['refresh_token'] as string;

describe('a spent refresh token under a foreign key', () => {
  it("a stranger holding the bundle's first token with their own key revokes the family (issue 21 item 4: loud and short-lived)", async () => {
    const p = await boundPilot();
    const stranger = await generateDpopKey();
    const r = await refresh(svc.url, p.first, stranger);
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_grant', error_description: expect.stringContaining('first token used by two keys') } });
    expect(await refresh(svc.url, p.current, p.key)).toMatchObject({ status: 401, body: { error: 'invalid_grant', error_description: 'the glidein is revoked' } });
  });

  it('any later spent token under a foreign key is refused as wrong_key, and nothing is spent or revoked', async () => {
    const p = await boundPilot();
    const next = tokenOf(await refresh(svc.url, p.current, p.key));
    expect((await refresh(svc.url, p.current, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
    expect((await refresh(svc.url, next, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
    expect((await refresh(svc.url, next, p.key)).status).toBe(200);
  });
});

describe('lost answers within rotationGraceSeconds', () => {
  it('gives the bound key a working successor for the same token with a new proof, and the lost successor is dead', async () => {
    const p = await boundPilot();
    const lost = tokenOf(await refresh(svc.url, p.current, p.key)); // this answer never arrives
    const retry = await refresh(svc.url, p.current, p.key);
    expect(retry.status).toBe(200);
    expect((retry.body['credentials'] as unknown[]).length).toBe(2);
    const replacement = tokenOf(retry);
    expect(replacement).not.toBe(lost);
    // The lost successor was superseded: a stranger's key changes nothing, the replacement works.
    expect((await refresh(svc.url, lost, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
    const after = await refresh(svc.url, replacement, p.key);
    expect(after.status).toBe(200);
    // Someone presenting the superseded successor with the bound key holds a copy: the family dies.
    expect((await refresh(svc.url, lost, p.key)).body['error']).toBe('invalid_grant');
    expect((await refresh(svc.url, tokenOf(after), p.key)).body['error']).toBe('invalid_grant');
  });

  it('spends the old token for good once its successor was used: the bound key revokes, another key changes nothing', async () => {
    const p = await boundPilot();
    const next = tokenOf(await refresh(svc.url, p.current, p.key));
    const nextNext = tokenOf(await refresh(svc.url, next, p.key));
    expect((await refresh(svc.url, p.current, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
    expect((await refresh(svc.url, nextNext, p.key)).status).toBe(200);
    const p2 = await boundPilot();
    const n2 = tokenOf(await refresh(svc.url, p2.current, p2.key));
    const nn2 = tokenOf(await refresh(svc.url, n2, p2.key));
    expect(await refresh(svc.url, p2.current, p2.key)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    expect((await refresh(svc.url, nn2, p2.key)).body['error']).toBe('invalid_grant');
  });

  it('refuses a retry that replays the earlier proof (same jti) and changes nothing', async () => {
    const p = await boundPilot();
    const jti = randomBytes(12).toString('base64url');
    expect((await refresh(svc.url, p.current, p.key, { jti })).status).toBe(200);
    expect((await refresh(svc.url, p.current, p.key, { jti })).body['error']).toBe('invalid_dpop_proof');
    expect((await refresh(svc.url, p.current, p.key)).status).toBe(200);
  });

  it('revokes on a retry after the grace window', async () => {
    const local = await makeSandbox();
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config({ rotationGraceSeconds: 1 }), listen: '127.0.0.1:0' });
    try {
      const p = await boundPilot(s, local);
      const next = tokenOf(await refresh(s.url, p.current, p.key));
      await new Promise((r) => setTimeout(r, 2200));
      expect((await refresh(s.url, p.current, p.key)).body['error']).toBe('invalid_grant');
      expect((await refresh(s.url, next, p.key)).body['error']).toBe('invalid_grant');
    } finally {
      await s.close();
      await local.cleanup();
    }
  });

  it('keeps nothing in the state files that would let a reader answer as a pilot: no token in clear', async () => {
    const p = await boundPilot();
    const tokens = [p.first, p.current];
    tokens.push(tokenOf(await refresh(svc.url, p.current, p.key)));
    tokens.push(tokenOf(await refresh(svc.url, p.current, p.key))); // a re-grant
    const files = readdirSync(sb.stateDir).filter((f) => f.startsWith('state.db')).map((f) => readFileSync(join(sb.stateDir, f)).toString('latin1'));
    expect(files.length).toBeGreaterThan(0);
    for (const t of tokens) for (const f of files) expect(f.includes(t)).toBe(false);
  });
});

/** The console's overview page, signed in with the admin token. */
async function consoleOverview(url: string, stateDir: string): Promise<string> {
  const admin = readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
  const login = await fetch(`${url}/console/login`, { method: 'POST', redirect: 'manual', headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: admin }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  return (await fetch(`${url}/console`, { headers: { cookie } })).text();
}

describe('a re-grant storm from one key (issue 26 item 2)', () => {
  it('re-grants a spent token to the bound key a few times, then refuses with 429 and nothing minted or spent, counted in /metrics and shown in the console', async () => {
    const p = await boundPilot();
    const next = tokenOf(await refresh(svc.url, p.current, p.key));
    // A client that cannot keep what it is given presents its spent token again and again.
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await refresh(svc.url, p.current, p.key));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(answers[3]).toMatchObject({ body: { error: 'rate_limited', error_description: expect.stringContaining('too many re-grants') } });
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThan(0);
    // The family lives: the last successor granted works (the first one was superseded).
    expect(next).not.toBe(tokenOf(answers[2]!));
    expect((await refresh(svc.url, tokenOf(answers[2]!), p.key)).status).toBe(200);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/^glidein_refresh_regrants_limited_total 3$/m);
    expect(metrics).toMatch(/^glidein_refresh_requests_total\{route="\/v1\/refresh",outcome="regrant_limited"\} 3$/m);
    expect(await consoleOverview(svc.url, sb.stateDir)).toContain('re-grant storm: a spent refresh token presented again and again by the bound key');
  });

  it('charges only real re-grants: retries refused as stale_proof (a lost answer retried in the same second) leave the re-grant allowance whole', async () => {
    const p = await boundPilot();
    const now = Math.floor(Date.now() / 1000);
    // The answer for this proof is "lost": its successor was made for iat now + 3.
    expect((await refresh(svc.url, p.current, p.key, { iat: now + 3 })).status).toBe(200);
    // Five retries with proofs of that same second: each is stale, nothing spent or minted.
    for (let i = 0; i < 5; i++) {
      const r = await refresh(svc.url, p.current, p.key, { iat: now + 3 });
      expect(r).toMatchObject({ status: 401, body: { error: 'invalid_grant', error_description: STALE_PROOF_DESCRIPTION } });
    }
    // The next second's retry is the re-grant the pilot needs (charged before: 429).
    const regrant = await refresh(svc.url, p.current, p.key, { iat: now + 4 });
    expect(regrant.status).toBe(200);
    expect((await refresh(svc.url, tokenOf(regrant), p.key, { iat: now + 5 })).status).toBe(200);
  });

  it("does not charge stale proofs to the address's refusal bucket: a node's pilots retrying lost answers are not rate-limited as an attacker", async () => {
    const small = await makeSandbox();
    const own = await startRefreshService({ stateDir: small.stateDir, config: small.config({ rotationGraceSeconds: 60, rateLimit: { clientPerSecond: 1, clientBurst: 3 } }), listen: '127.0.0.1:0' });
    try {
      const p = await boundPilot(own, small);
      const now = Math.floor(Date.now() / 1000);
      expect((await refresh(own.url, p.current, p.key, { iat: now + 3 })).status).toBe(200);
      const stale = [];
      for (let i = 0; i < 6; i++) stale.push((await refresh(own.url, p.current, p.key, { iat: now + 3 })).status);
      expect(stale).toEqual([401, 401, 401, 401, 401, 401]);
      // Six refusals in well under a second against a burst of 3: none charged, and the re-grant follows.
      expect((await refresh(own.url, p.current, p.key, { iat: now + 4 })).status).toBe(200);
    } finally {
      await own.close();
      await small.cleanup();
    }
  });
});

