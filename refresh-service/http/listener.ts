// The listening socket of the refresh service: HTTP or HTTPS, with the limits against slow and
// many clients, and JSON answers to requests that never reach the router (malformed HTTP, slow
// or huge headers).
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSafely } from '../../shared/safe-open.ts';
import type { Socket } from 'node:net';
import { ConfigError, GlideinError, errnoCode } from '../../shared/errors.ts';
import type { ServiceConfig } from '../config.ts';

/** How often Node looks for clients past headersTimeout/requestTimeout (its default is 30 s). */
const SLOW_CLIENT_CHECK_MS = 1000;

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new GlideinError('GLIDEIN_ERR_USAGE', `--listen '${value}' is not valid; expected HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443)`);
  return { host: (m[1] ?? m[2])!, port };
}

export interface TlsFiles {
  cert: string;
  key: string;
}

async function readTls(tls: TlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const read = (path: string, flag: string) => readFileSafely(path, { code: 'GLIDEIN_ERR_CONFIG', what: flag, maxBytes: 1024 * 1024 });
  return { cert: await read(tls.cert, '--tls-cert'), key: await read(tls.key, '--tls-key') };
}

/** An HTTP(S) server with the config's limits, not yet listening. Throws ConfigError for bad TLS files. */
export async function createLimitedServer(config: ServiceConfig, tls: TlsFiles | undefined): Promise<Server> {
  const material = tls ? await readTls(tls) : undefined;
  const common = { connectionsCheckingInterval: SLOW_CLIENT_CHECK_MS, headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs };
  let server: Server;
  try {
    server = material ? createHttpsServer({ ...common, cert: material.cert, key: material.key }) : createHttpServer(common);
  } catch (cause) {
    throw new ConfigError(`--tls-cert/--tls-key: cannot use them (${(cause as Error).message})`, { cause });
  }
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = config.maxConnections;
  server.maxHeadersCount = 64;
  return server;
}

/** Listen on `listen` (HOST:PORT as given by the user, for messages). */
export async function listenOn(server: Server, listen: string): Promise<void> {
  const { host, port } = parseListen(listen);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    const code = errnoCode(cause);
    if (code === 'EADDRINUSE') throw new GlideinError('GLIDEIN_ERR_ADDRESS_IN_USE', `--listen ${listen}: the address is already in use`, { cause });
    throw new ConfigError(`--listen ${listen}: cannot listen there (${code ?? String(cause)})`, { cause });
  }
}

/**
 * Below the request layer (malformed HTTP, slow headers, huge headers): a JSON 4xx when the
 * socket can still take it, then destroy it (a half-closed socket whose peer never closes would
 * keep its connection slot). `count` gets the status for the metrics.
 */
export function answerClientErrors(server: Server, count: (status: number) => void): void {
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    const code = e.code ?? '';
    const [status, reason] = code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT'
      ? [408, 'Request Timeout'] : code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    count(status);
    if (!socket.writable) return void socket.destroy();
    const body = JSON.stringify({ error: 'invalid_request', error_description: reason.toLowerCase() });
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    (socket as Socket).destroySoon();
  });
}
