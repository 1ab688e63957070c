// S-CREDs from a real OpenID provider with the OAuth 2.0 client credentials grant (issue 15
// part 1): panva's oidc-provider on a loopback port issues JWT access tokens (resource
// indicators); the refresh service discovers its token endpoint, caches the token, replaces it
// after 2/3 of its life or when it would expire before the pilot's next refresh, and while the
// IdP is down answers 503 temporarily_unavailable with Retry-After, then recovers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider from 'oidc-provider';
import { createDpopProof, generateDpopKey, htuOf, type DpopKey } from '../../../shared/dpop.ts';
import { registerPilot, startRefreshService } from '../../../refresh-service/index.ts';
import { ClientCredentialsSource } from '../../../refresh-service/entries/client-credentials.ts';
import type { ServiceConfig } from '../../../refresh-service/config.ts';
import { freePort } from '../../helpers/net.ts';
import { makeSandbox, refresh, type Sandbox } from '../fixture.ts';

const AUDIENCE = 'https://wlcg.cern.ch/jwt/v1/any';
const SCOPE = 'compute.create compute.read';
const CLIENT_ID = 'glidein-factory';
const CLIENT_SECRET = randomBytes(24).toString('base64url');

let sb: Sandbox;
let issuer: string;
let port: number;
let provider: Provider;
let idp: Server | undefined;
let secretFile: string;
/** Access-token lifetime the IdP gives (seconds), changed per test. */
let ttl = 1200;
/** Token requests the IdP has answered. */
let tokenRequests = 0;

async function startIdp(): Promise<void> {
  const handle = provider.callback();
  idp = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/token') tokenRequests++;
    void handle(req, res);
  });
  await new Promise<void>((resolve) => idp!.listen(port, '127.0.0.1', resolve));
}
async function stopIdp(): Promise<void> {
  const s = idp;
  idp = undefined;
  s?.closeAllConnections();
  await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
}

beforeAll(async () => {
  sb = await makeSandbox();
  port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  provider = new Provider(issuer, {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'idp-1' }] },
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: SCOPE }],
    scopes: ['openid', ...SCOPE.split(' ')],
    ttl: { ClientCredentials: () => ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== AUDIENCE) throw new Error(`unknown resource ${resource}`);
          return { scope: SCOPE, audience: AUDIENCE, accessTokenTTL: ttl, accessTokenFormat: 'jwt' };
        },
      },
    },
  });
  await startIdp();
  secretFile = join(sb.dir, 'cms-iam.secret');
  await writeFile(secretFile, CLIENT_SECRET + '\n', { mode: 0o600 });
  await chmod(secretFile, 0o600);
});
afterAll(async () => {
  await stopIdp();
  await sb?.cleanup();
});

const idpConfig = () => ({ issuer: `${issuer}/`, clientId: CLIENT_ID, clientSecretFile: secretFile, scope: SCOPE, audience: AUDIENCE });
const config = (box = sb): ServiceConfig =>
  box.config({ idtokenLifetime: 600, idps: { 'cms-iam': idpConfig() }, entries: { CE_Site_A: { credentials: { 'vo-service': { source: 'client_credentials', idp: 'cms-iam' } } } } });
const register = (url: string, box = sb) => registerPilot({ stateDir: box.stateDir, config: config(box), glideinId: `g-${randomBytes(4).toString('hex')}`, entry: 'CE_Site_A', url });
/** POST /v1/token (RFC 6749 refresh grant, form body) with a DPoP proof. */
async function tokenGrant(base: string, refreshToken: string, key: DpopKey): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const url = `${base}/v1/token`;
  const dpop = await createDpopProof(key, { htm: 'POST', htu: htuOf(url) });
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString() });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as Record<string, unknown> };
}
const sCred = (list: Record<string, unknown>[]) => list.find((c) => c['purpose'] === 'vo-service') as { token: string; type: string; expires_at: number };

describe('client_credentials S-CRED from oidc-provider', () => {
  it("hands the pilot the IdP's JWT access token (scope and audience asked for), verifiable with the IdP's keys", async () => {
    ttl = 1200;
    const before = tokenRequests;
    const b = await register('http://127.0.0.1:9');
    const s = sCred(b.credentials);
    expect(s.type).toBe('scitoken');
    const { payload } = await jwtVerify(s.token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: AUDIENCE });
    expect(payload).toMatchObject({ client_id: CLIENT_ID, scope: SCOPE });
    // expires_in counted from just before the request: never later than the token's own exp.
    expect(s.expires_at).toBeLessThanOrEqual(payload.exp!);
    expect(s.expires_at).toBeGreaterThanOrEqual(payload.exp! - 2);
    // A second register (its own process in production: its own context here) shares the token
    // through the state store instead of asking the IdP again.
    expect(sCred((await register('http://127.0.0.1:9')).credentials).token).toBe(s.token);
    expect(tokenRequests - before).toBe(1);
  });

  it('caches the token, replaces it after 2/3 of its life, and never keeps one that expires before the next refresh', async () => {
    ttl = 900;
    const source = new ClientCredentialsSource('cms-iam', idpConfig(), CLIENT_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const first = await source.token(now, now + 60);
    expect(await source.token(now + 10, now + 70)).toBe(first);
    // Past 2/3 of its 900 s life (600 s): a new one.
    const second = await source.token(first.issuedAt + 601, first.issuedAt + 610);
    expect(second.token).not.toBe(first.token);
    // Still young, but the pilot's next refresh would come after it expires: a new one.
    const third = await source.token(now + 20, second.expiresAt + 1);
    expect(third.token).not.toBe(second.token);
  });

  it('answers 503 temporarily_unavailable with Retry-After while the IdP is down (nothing spent), and works again once it is back', async () => {
    // 60 s tokens: never good until the next refresh of a 600 s C-CRED (360 s), so every mint asks the IdP.
    ttl = 60;
    const own = await makeSandbox(); // a state store without the other tests' cached token
    const svc = await startRefreshService({ stateDir: own.stateDir, config: config(own), listen: '127.0.0.1:0' });
    const b = await register(svc.url, own);
    const key = await generateDpopKey();
    await stopIdp();
    try {
      // The IdP is down and the cached token (memory or store) would expire before the next refresh.
      const down = await refresh(svc.url, b.refresh_token, key);
      expect(down, JSON.stringify(down.body)).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
      expect(String(down.body['error_description'])).toContain("IdP 'cms-iam'");
      expect(down.headers.get('retry-after')).toBe('30');
      // The OAuth token endpoint keeps the 503 too (not a 400 the client would take as final),
      // with an RFC 6749 section 5.2 error code (temporarily_unavailable is not one of them).
      expect(await tokenGrant(svc.url, b.refresh_token, key)).toMatchObject({ status: 503, retryAfter: '30', body: { error: 'invalid_request' } });
      ttl = 1200;
      await startIdp();
      await new Promise((r) => setTimeout(r, 1100)); // the source holds a failure for 1 s
      const up = await refresh(svc.url, b.refresh_token, key);
      expect(up.status, JSON.stringify(up.body)).toBe(200);
      expect(sCred(up.body['credentials'] as Record<string, unknown>[]).token.split('.')).toHaveLength(3);
      // While the IdP is down again, the cached token (good past the next refresh) is still handed out.
      await stopIdp();
      const cached = await refresh(svc.url, up.body['refresh_token'] as string, key);
      expect(cached.status).toBe(200);
    } finally {
      if (!idp) await startIdp();
      await svc.close();
      await own.cleanup();
    }
  });
});
