// The agent's HTTP client against real servers on loopback: a TLS service trusted through the
// bundle's CA or a hashed X509_CERT_DIR, an HTTP proxy from HTTPS_PROXY/HTTP_PROXY (CONNECT
// for https), NO_PROXY, an oversized answer and a silent server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHttpClient } from '../../agent/pilot/http-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'glidein-http-'));
let ca = '';
let tlsServer: https.Server;
let plainServer: http.Server;
let proxy: http.Server;
const proxied: string[] = [];
const port = (s: net.Server) => (s.address() as AddressInfo).port;
const listen = (s: net.Server) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));

beforeAll(async () => {
  // A CA and a server certificate for 127.0.0.1 signed by it.
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=glidein test CA', '-days', '2']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext'], { cwd: dir, stdio: 'pipe' });
  ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const echo = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/big') {
        res.end('x'.repeat(70 * 1024));
        return;
      }
      if (req.url === '/silent') return;
      res.setHeader('retry-after', '7');
      res.statusCode = 429;
      res.end(JSON.stringify({ got: JSON.parse(body), type: req.headers['content-type'], dpop: req.headers['dpop'] }));
    });
  };
  tlsServer = https.createServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) }, echo);
  plainServer = http.createServer(echo);
  proxy = http.createServer((req, res) => {
    proxied.push(`GET-style ${req.url}`);
    const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  proxy.on('connect', (req, sock, head) => {
    proxied.push(`CONNECT ${req.url}`);
    const [h, p] = req.url!.split(':');
    const up = net.connect(Number(p), h, () => {
      sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
      up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
  });
  await Promise.all([listen(tlsServer), listen(plainServer), listen(proxy)]);
});

afterAll(() => {
  for (const s of [tlsServer, plainServer, proxy]) {
    s.closeAllConnections?.();
    s.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the agent HTTP client', () => {
  it('posts JSON and returns status, headers and body, whatever the status', async () => {
    const c = createHttpClient({ bundleCa: undefined, env: {} });
    const r = await c.postJson(`http://127.0.0.1:${port(plainServer)}/v1/refresh`, { dpop: 'proof' }, '{"a":1}');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    expect(JSON.parse(r.text)).toEqual({ got: { a: 1 }, type: 'application/json', dpop: 'proof' });
    await c.close();
  });

  it('trusts the service through the bundle CA', async () => {
    const c = createHttpClient({ bundleCa: ca, env: {} });
    expect(c.trust.source).toBe('bundle');
    expect((await c.postJson(`https://127.0.0.1:${port(tlsServer)}/`, {}, '{}')).status).toBe(429);
    await c.close();
  });

  it('trusts the service through a hashed grid CA directory (X509_CERT_DIR)', async () => {
    const certDir = join(dir, 'certificates');
    mkdirSync(certDir, { recursive: true });
    const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', join(dir, 'ca.pem')]).toString().trim();
    copyFileSync(join(dir, 'ca.pem'), join(certDir, `${hash}.0`));
    const c = createHttpClient({ bundleCa: undefined, env: { X509_CERT_DIR: certDir } });
    expect(c.trust.source).toBe('X509_CERT_DIR');
    expect((await c.postJson(`https://127.0.0.1:${port(tlsServer)}/`, {}, '{}')).status).toBe(429);
    await c.close();
  });

  it('refuses a service whose certificate no trusted CA signed', async () => {
    const c = createHttpClient({ bundleCa: undefined, env: {} });
    await expect(c.postJson(`https://127.0.0.1:${port(tlsServer)}/`, {}, '{}')).rejects.toMatchObject({ code: 'GLIDEIN_ERR_HTTP' });
    await c.close();
  });

  it('goes through HTTPS_PROXY with CONNECT for an https service, keeping TLS to the service', async () => {
    proxied.length = 0;
    const c = createHttpClient({ bundleCa: ca, env: { HTTPS_PROXY: `http://127.0.0.1:${port(proxy)}` } });
    expect((await c.postJson(`https://127.0.0.1:${port(tlsServer)}/`, {}, '{}')).status).toBe(429);
    expect(proxied).toEqual([`CONNECT 127.0.0.1:${port(tlsServer)}`]);
    await c.close();
  });

  it('goes through http_proxy for an http service, and not for hosts in NO_PROXY', async () => {
    proxied.length = 0;
    const url = `http://127.0.0.1:${port(plainServer)}/`;
    const via = createHttpClient({ bundleCa: undefined, env: { http_proxy: `http://127.0.0.1:${port(proxy)}` } });
    expect((await via.postJson(url, {}, '{}')).status).toBe(429);
    expect(proxied).toEqual([`GET-style ${url}`]);
    const direct = createHttpClient({ bundleCa: undefined, env: { http_proxy: `http://127.0.0.1:${port(proxy)}`, NO_PROXY: '127.0.0.1' } });
    expect((await direct.postJson(url, {}, '{}')).status).toBe(429);
    expect(proxied).toHaveLength(1);
    await via.close();
    await direct.close();
  });

  it('refuses an answer larger than the protocol allows', async () => {
    const c = createHttpClient({ bundleCa: undefined, env: {} });
    await expect(c.postJson(`http://127.0.0.1:${port(plainServer)}/big`, {}, '{}')).rejects.toThrow(/larger than 65536 bytes/);
    await c.close();
  });

  it('gives up on a silent service after its timeout', async () => {
    const c = createHttpClient({ bundleCa: undefined, env: {}, timeoutMs: 300 });
    await expect(c.postJson(`http://127.0.0.1:${port(plainServer)}/silent`, {}, '{}')).rejects.toThrow(/no answer within 300 ms/);
    await c.close();
  });
});
