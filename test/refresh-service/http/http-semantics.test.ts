// HTTP as RFC 9110 says, over real HTTP to a real service: HEAD wherever GET (same status and
// header fields, no body), 405 with Allow, every 401 with a WWW-Authenticate challenge (Bearer
// for the admin routes, RFC 6750 section 3; DPoP for the pilot routes, RFC 9449 section 7.1),
// and a request with two DPoP headers told so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDpopProof, generateDpopKey, htuOf } from '../../../shared/dpop.ts';
import { registerPilot, startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

let sb: Sandbox;
let svc: RunningService;
let admin: string;

beforeAll(async () => {
  sb = await makeSandbox();
  svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ metricsRequireAdmin: true }), listen: '127.0.0.1:0' });
  admin = (await readFile(join(sb.stateDir, 'admin.token'), 'utf8')).trim();
});
afterAll(async () => {
  await svc?.close();
  await sb?.cleanup();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request as sent, with whatever method and (repeated) header fields; the body as received. */
function raw(method: string, path: string, headers: Record<string, string | string[]> = {}, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${svc.url}${path}`, { method, headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = () => ({ authorization: `Bearer ${admin}` });
let seq = 0;
const register = async () => (await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: `http-${++seq}`, entry: 'CE_HTTP', url: svc.url })).refresh_token;

describe('HEAD', () => {
  it.each([
    ['/healthz'],
    ['/readyz'],
    ['/.well-known/jwks.json'],
    ['/.well-known/openid-configuration'],
    ['/.well-known/oauth-authorization-server'],
    ['/console'],
  ])('answers HEAD %s as GET, with no body', async (path) => {
    const get = await raw('GET', path);
    const head = await raw('HEAD', path);
    expect(get.status).toBe(200);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
  });

  it('answers HEAD /metrics (admin mode) with the admin token, and 401 with a challenge without it', async () => {
    const head = await raw('HEAD', '/metrics', bearer());
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    const refused = await raw('HEAD', '/metrics');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="glidein-refresh-service"');
  });

  it('answers HEAD on a POST-only path with 405 Allow: POST', async () => {
    const r = await raw('HEAD', '/v1/refresh');
    expect(r).toMatchObject({ status: 405, body: '' });
    expect(r.headers['allow']).toBe('POST');
  });
});

describe('405', () => {
  it.each([
    ['GET', '/v1/refresh', 'POST'],
    ['DELETE', '/healthz', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['POST', '/.well-known/openid-configuration', 'GET, HEAD'],
    ['GET', '/v1/vo-credentials/vo', 'PUT'],
    ['PUT', '/v1/revoke', 'POST'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const r = await raw(method, path);
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe(allow);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'method_not_allowed', error_description: `${path} takes ${allow}` });
  });
});

describe('401 challenges', () => {
  const dpopAlgs = 'DPoP algs="ES256 RS256 Ed25519 EdDSA"';
  it.each<[string, () => Promise<Raw>, string]>([
    ['GET /metrics (admin mode) without a token', () => raw('GET', '/metrics'), 'Bearer realm="glidein-refresh-service"'],
    ['GET /v1/pilots with a wrong token', () => raw('GET', '/v1/pilots', { authorization: 'Bearer not-the-admin-token' }), 'Bearer realm="glidein-refresh-service", error="invalid_token"'],
    ['GET /v1/entries with Basic credentials', () => raw('GET', '/v1/entries', { authorization: 'Basic YWRtaW46YWRtaW4=' }), 'Bearer realm="glidein-refresh-service"'],
    ['POST /v1/revoke with a malformed bearer token', () => raw('POST', '/v1/revoke', { authorization: 'Bearer a b', 'content-type': 'application/json' }, '{"entry":"x"}'), 'Bearer realm="glidein-refresh-service", error="invalid_request"'],
    ['PUT /v1/vo-credentials/vo without a token', () => raw('PUT', '/v1/vo-credentials/vo', { 'content-type': 'application/json' }, '{}'), 'Bearer realm="glidein-refresh-service"'],
    ['POST /v1/refresh with an unknown token', () => raw('POST', '/v1/refresh', { 'content-type': 'application/json' }, JSON.stringify({ refresh_token: 'A'.repeat(43) })), dpopAlgs],
    ['POST /v1/refresh without a DPoP proof', async () => raw('POST', '/v1/refresh', { 'content-type': 'application/json' }, JSON.stringify({ refresh_token: await register() })), `${dpopAlgs}, error="invalid_dpop_proof"`],
    ['POST /v1/status for an unbound glidein', () => raw('POST', '/v1/status', { 'content-type': 'application/json' }, '{"glidein_id":"nobody"}'), `${dpopAlgs}, error="invalid_dpop_proof"`],
    ['POST /console/login with a wrong token', () => raw('POST', '/console/login', { origin: svc.url, 'content-type': 'application/x-www-form-urlencoded' }, 'token=wrong'), 'Cookie realm="glidein console", form-action="/console/login", cookie-name="glidein_console"'],
  ])('%s: 401 with WWW-Authenticate', async (_what, send, challenge) => {
    const r = await send();
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(challenge);
  });

  it('serves the admin routes with the admin token (the challenge is not a blanket refusal)', async () => {
    expect((await raw('GET', '/v1/entries', bearer())).status).toBe(200);
    expect((await raw('GET', '/metrics', bearer())).status).toBe(200);
  });
});

describe('DPoP header count', () => {
  it('tells two DPoP headers from a missing one, and spends nothing', async () => {
    const token = await register();
    const key = await generateDpopKey();
    const url = `${svc.url}/v1/refresh`;
    const proof = () => createDpopProof(key, { htm: 'POST', htu: htuOf(url) });
    const body = JSON.stringify({ refresh_token: token });
    const two = await raw('POST', '/v1/refresh', { 'content-type': 'application/json', dpop: [await proof(), await proof()] }, body);
    expect(two.status).toBe(401);
    expect(JSON.parse(two.body)).toMatchObject({ error: 'invalid_dpop_proof', error_description: '2 DPoP headers; RFC 9449 section 4.3 allows exactly one proof per request' });
    const none = await raw('POST', '/v1/refresh', { 'content-type': 'application/json' }, body);
    expect(JSON.parse(none.body)).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'missing DPoP header' });
    expect((await raw('POST', '/v1/refresh', { 'content-type': 'application/json', dpop: await proof() }, body)).status).toBe(200);
  });
});
