// IdP discovery must not send the client secret in clear text (issue 21 §4): a discovered
// token_endpoint that is http:// to a non-loopback host is refused unless the config says
// allowInsecureHttp. A real HTTP server plays the IdP: it listens on every address and its
// metadata names its token endpoint by this machine's own non-loopback IPv4 address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { ClientCredentialsSource } from '../../../refresh-service/entries/client-credentials.ts';
import { skipWithout } from '../../helpers/system-tools.ts';

const ownAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
const noAddress = skipWithout('a non-loopback IPv4 address', ownAddress !== undefined, 'this machine has no non-internal IPv4 interface to stand for a remote IdP');

let server: Server;
let port = 0;
/** Token requests that reached the IdP, and the Authorization header each carried. */
const tokenRequests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: `http://127.0.0.1:${port}`, token_endpoint: `http://${ownAddress}:${port}/token` }));
      return;
    }
    if (req.method === 'POST' && req.url === '/token') {
      tokenRequests.push(req.headers.authorization ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'opaque-access-token', token_type: 'Bearer', expires_in: 1200 }));
      return;
    }
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

const idp = () => ({ issuer: `http://127.0.0.1:${port}`, clientId: 'glidein-factory', clientSecretFile: '/unused', scope: '', audience: '' });
const now = () => Math.floor(Date.now() / 1000);

describe.skipIf(noAddress)('IdP discovery over clear text', () => {
  it('refuses an http:// token endpoint on a non-loopback host and never sends it the client secret', async () => {
    const source = new ClientCredentialsSource('cms-iam', idp(), 'the-client-secret');
    await expect(source.token(now(), now() + 60)).rejects.toThrow(/IdP 'cms-iam'.*token_endpoint 'http:\/\/[\d.]+:\d+\/token' is http:\/\/ to a non-loopback host.*allowInsecureHttp/);
    expect(tokenRequests).toEqual([]);
  });

  it('uses it when the config says allowInsecureHttp', async () => {
    const source = new ClientCredentialsSource('cms-iam', idp(), 'the-client-secret', true);
    expect((await source.token(now(), now() + 60)).token).toBe('opaque-access-token');
    expect(tokenRequests).toHaveLength(1);
  });
});
