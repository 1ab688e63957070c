// POST /v1/token as panva's openid-client 6 (a certified OpenID relying party library, beside
// oauth4webapi in token.test.ts) sees it, against a real service on an ephemeral loopback port:
// discovery by both well-known documents, then its refresh-token grant with DPoP from ES256,
// RS256 and Ed25519 keys, twice in a row each; client secrets, a wider or narrower scope and
// other RFC 6749 section 5.2 refusals as the RFCs word them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwtUnverified } from '../../../shared/jwt-decode.ts';
import { registerPilot, type RunningService } from '../../../refresh-service/index.ts';
import { type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { HttpRefusal } from '../../../refresh-service/http/refusal.ts';
import { asOAuthRefusal } from '../../../refresh-service/routes/token-checks.ts';

let sb: Sandbox;
let svc: RunningService;
let seq = 0;
const CLIENT_ID = 'glidein-pilot';
const insecure = { execute: [client.allowInsecureRequests] };

beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
});
afterAll(() => stopSandboxService(svc, sb));

const register = async () => (await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: `oidc-client-${++seq}`, entry: 'CE_OIDC', url: svc.url })).refresh_token;
const discover = (auth: client.ClientAuth = client.None(), algorithm: 'oidc' | 'oauth2' = 'oidc') => client.discovery(new URL(svc.url), CLIENT_ID, undefined, auth, { ...insecure, algorithm });
const scope = () => sb.config().scitoken.scope;

/** What a refusal looks like to openid-client: the status, the error code, the challenge. */
async function refusal(run: () => Promise<unknown>): Promise<{ status: number; error: string; challenge: string | null }> {
  const e = await run().then(() => undefined, (x: unknown) => x);
  if (e instanceof client.ResponseBodyError) return { status: e.status, error: e.error, challenge: e.response.headers.get('www-authenticate') };
  // A 401 with a challenge: openid-client reports the challenge and leaves the body unread.
  if (e instanceof client.WWWAuthenticateChallengeError) return { status: e.status, error: ((await e.response.json()) as { error: string }).error, challenge: e.response.headers.get('www-authenticate') };
  throw new Error(`expected a refusal, got ${String(e)}`);
}

describe('openid-client against /v1/token', () => {
  it.each(['oidc', 'oauth2'] as const)('discovers the service (%s discovery): issuer, token endpoint, both Ed25519 names among the DPoP algorithms', async (algorithm) => {
    const m = (await discover(client.None(), algorithm)).serverMetadata();
    expect(m).toMatchObject({ issuer: svc.url, token_endpoint: `${svc.url}/v1/token`, jwks_uri: `${svc.url}/.well-known/jwks.json`, token_endpoint_auth_methods_supported: ['none'] });
    expect(m.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256', 'Ed25519', 'EdDSA']));
  });

  it.each(['ES256', 'RS256', 'Ed25519'])('refreshes twice in a row with a DPoP key %s', async (alg) => {
    const config = await discover();
    const keyPair = await client.randomDPoPKeyPair(alg);
    const DPoP = client.getDPoPHandle(config, keyPair);
    let token = await register();
    for (let i = 0; i < 2; i++) {
      const r = await client.refreshTokenGrant(config, token, undefined, { DPoP });
      expect(r.token_type).toBe('bearer');
      expect(r.expiresIn()).toBeGreaterThan(0);
      expect(r.scope).toBe(scope());
      expect(decodeJwtUnverified(r.access_token).claims).toMatchObject({ iss: svc.url, 'wlcg.ver': '1.0', scope: scope() });
      expect(r.refresh_token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(r.refresh_token).not.toBe(token);
      token = r.refresh_token!;
    }
    // The family is bound to this key: another key of the same kind is refused.
    const stranger = client.getDPoPHandle(config, await client.randomDPoPKeyPair(alg));
    expect(await refusal(() => client.refreshTokenGrant(config, token, undefined, { DPoP: stranger }))).toEqual({ status: 400, error: 'invalid_dpop_proof', challenge: null });
  });

  it('accepts a scope equal to the granted one, in any order', async () => {
    const config = await discover();
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const reordered = scope().split(' ').reverse().join(' ');
    const r = await client.refreshTokenGrant(config, await register(), { scope: reordered }, { DPoP });
    expect(r.scope).toBe(scope());
  });

  it.each([
    ['a wider scope', () => `${scope()} storage.read:/`],
    ['a narrower scope', () => scope().split(' ')[0]!],
  ])('refuses %s with 400 invalid_scope, spending nothing', async (_what, asked) => {
    const config = await discover();
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const token = await register();
    expect(await refusal(() => client.refreshTokenGrant(config, token, { scope: asked() }, { DPoP }))).toEqual({ status: 400, error: 'invalid_scope', challenge: null });
    expect((await client.refreshTokenGrant(config, token, undefined, { DPoP })).refresh_token).toBeDefined();
  });

  it('refuses a client secret in the body with 400 invalid_client, and in a Basic header with 401 invalid_client and a Basic challenge', async () => {
    const post = await discover(client.ClientSecretPost('s3cret'));
    const basic = await discover(client.ClientSecretBasic('s3cret'));
    const token = await register();
    const DPoP = client.getDPoPHandle(post, await client.randomDPoPKeyPair('ES256'));
    expect(await refusal(() => client.refreshTokenGrant(post, token, undefined, { DPoP }))).toEqual({ status: 400, error: 'invalid_client', challenge: null });
    expect(await refusal(() => client.refreshTokenGrant(basic, token, undefined, { DPoP }))).toEqual({ status: 401, error: 'invalid_client', challenge: 'Basic realm="glidein-refresh-service"' });
  });
});

describe('/v1/token errors from RFC 6749 section 5.2 only', () => {
  it.each<[string, () => Promise<Response>, number, string | null]>([
    ['GET', () => fetch(`${svc.url}/v1/token`), 405, 'POST'],
    ['PUT', () => fetch(`${svc.url}/v1/token`, { method: 'PUT' }), 405, 'POST'],
    ['a body over 64 KiB', () => fetch(`${svc.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&x=${'a'.repeat(70_000)}` }), 413, null],
  ])('answers %s with invalid_request, its status kept', async (_what, send, status, allow) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.headers.get('allow')).toBe(allow);
    expect(await r.json()).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    [new HttpRefusal(429, 'rate_limited', 'the service is busy', 'rate_limited', 3), 429, 'invalid_request', '3'],
    [new HttpRefusal(503, 'temporarily_unavailable', 'IdP down', 'idp_unavailable', 30), 503, 'invalid_request', '30'],
    [new HttpRefusal(401, 'invalid_grant', 'unknown refresh token', 'unknown_token'), 400, 'invalid_grant', undefined],
    [new HttpRefusal(401, 'invalid_dpop_proof', 'bad DPoP proof signature'), 400, 'invalid_dpop_proof', undefined],
  ])('words a router or service refusal as RFC 6749 does: %s', (e, status, error, retryAfter) => {
    const mapped = asOAuthRefusal(e);
    expect(mapped).toMatchObject({ status, error, message: e.message, outcome: e.outcome });
    expect(mapped.retryAfter === undefined ? undefined : String(mapped.retryAfter)).toBe(retryAfter);
  });
});
