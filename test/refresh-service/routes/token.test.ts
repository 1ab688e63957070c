// POST /v1/token as a standard OAuth 2.0 client sees it: panva's oauth4webapi discovers the
// service, and its refresh-token grant with DPoP works unchanged (ES256, RS256, Ed25519 keys),
// twice in a row; errors are
// RFC 6749 section 5.2 answers (400 with the error name, no DPoP challenge header).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { decodeJwtUnverified } from '../../../shared/jwt-decode.ts';
import { registerPilot, type RunningService } from '../../../refresh-service/index.ts';
import { refresh, type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { generateDpopKey } from '../../../shared/dpop.ts';

let sb: Sandbox;
let svc: RunningService;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: 'glidein-pilot' };
const insecure = { [oauth.allowInsecureRequests]: true } as const;
let seq = 0;

beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
  const issuer = new URL(svc.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
});
afterAll(() => stopSandboxService(svc, sb));

const register = async () => (await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: `oauth-${++seq}`, entry: 'CE_OAUTH', url: svc.url })).refresh_token;

async function grant(refreshToken: string, dpop: oauth.DPoPHandle) {
  const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, { DPoP: dpop, ...insecure });
  return oauth.processRefreshTokenResponse(as, client, res);
}

describe('OAuth 2.0 token endpoint', () => {
  it('publishes honest metadata: the token endpoint, refresh grant only, DPoP algorithms, keys where they are served', () => {
    expect(as).toMatchObject({
      issuer: svc.url,
      token_endpoint: `${svc.url}/v1/token`,
      jwks_uri: `${svc.url}/.well-known/jwks.json`,
      grant_types_supported: ['refresh_token'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'Ed25519', 'EdDSA'],
    });
  });

  it.each(['ES256', 'RS256', 'Ed25519', 'EdDSA'])("serves oauth4webapi's refresh-token grant with DPoP (%s key) twice in a row: the S-CRED as access token, a rotated refresh token", async (alg) => {
    // oauth4webapi signs with an Ed25519 key as alg "Ed25519" (RFC 9864) whichever name made it.
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair(alg));
    let token = await register();
    for (let i = 0; i < 2; i++) {
      const r = await grant(token, dpop);
      expect(r.token_type).toBe('bearer');
      expect(r.expires_in).toBeGreaterThan(0);
      expect(r.scope).toBe(sb.config().scitoken.scope);
      expect(decodeJwtUnverified(r.access_token).claims).toMatchObject({ iss: svc.url, 'wlcg.ver': '1.0' });
      expect((r['credentials'] as { purpose: string }[]).map((c) => c.purpose)).toEqual(['collector', 'vo-service']);
      expect(r.refresh_token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(r.refresh_token).not.toBe(token);
      token = r.refresh_token!;
    }
    // The contract endpoint shares the family: a stranger key is refused there as well.
    expect((await refresh(svc.url, token, await generateDpopKey())).body['error']).toBe('invalid_dpop_proof');
  });

  it.each([
    ['an unknown refresh token', async () => grant('A'.repeat(43), oauth.DPoP(client, await oauth.generateKeyPair('ES256'))), 'invalid_grant'],
    ['a proof from another key than the bound one', async () => {
      const token = await register();
      const r = await grant(token, oauth.DPoP(client, await oauth.generateKeyPair('ES256')));
      return grant(r.refresh_token!, oauth.DPoP(client, await oauth.generateKeyPair('ES256')));
    }, 'invalid_dpop_proof'],
    ['no DPoP proof', async () => oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), await register(), insecure)), 'invalid_dpop_proof'],
  ])('answers %s with 400 %s', async (_what, run, error) => {
    const e = await run().then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(oauth.ResponseBodyError);
    expect(e).toMatchObject({ status: 400, error });
    expect((e as oauth.ResponseBodyError).response.headers.get('www-authenticate')).toBeNull();
  });

  it.each([
    ['grant_type=password', 'grant_type=password&username=a&password=b', 'unsupported_grant_type'],
    ['no grant_type', 'refresh_token=x', 'invalid_request'],
    ['a repeated parameter', 'grant_type=refresh_token&grant_type=refresh_token', 'invalid_request'],
    ['a malformed refresh token', 'grant_type=refresh_token&refresh_token=abc', 'invalid_request'],
  ])('answers a form with %s with 400 %s', async (_what, body, error) => {
    const r = await fetch(`${svc.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error });
  });

  it('answers a JSON body with 400 invalid_request', async () => {
    const r = await fetch(`${svc.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"refresh_token"}' });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid_request' });
  });
});
