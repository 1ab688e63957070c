// The request context notices a client that went away before its answer (a rotation is then not
// committed: the client will retry with the same token, and committing its abandoned request
// afterwards could supersede the successor the retry already received).
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Router, type Route } from '../../../refresh-service/http/router.ts';
import type { RequestContext, ServiceRuntime } from '../../../refresh-service/http/request-context.ts';
import { Metrics } from '../../../refresh-service/metrics.ts';
import { silentLogger } from '../../../shared/log.ts';

let server: Server | undefined;
afterEach(() => server?.close());

/** A real server whose one route waits for `release`, then reports what its context saw. */
async function serveOne(): Promise<{ port: number; seen: Promise<boolean>; release: () => void }> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let report!: (gone: boolean) => void;
  const seen = new Promise<boolean>((r) => (report = r));
  const route: Route = { method: 'POST', path: '/slow', limited: false, handle: async (ctx: RequestContext) => {
    await gate;
    report(ctx.clientGone);
    return { ok: true };
  } };
  const service = { metrics: new Metrics(), log: silentLogger, draining: false, limits: {}, now: () => Math.floor(Date.now() / 1000) } as unknown as ServiceRuntime;
  const router = new Router(service, [route]);
  server = createServer((req, res) => router.dispatch(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, seen, release };
}

const REQUEST = 'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';

describe('RequestContext.clientGone', () => {
  it('is true once the client closed its connection before the answer', async () => {
    const { port, seen, release } = await serveOne();
    const sock = connect(port, '127.0.0.1', () => sock.write(REQUEST));
    await new Promise((r) => setTimeout(r, 200));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect(await seen).toBe(true);
  });

  it('is false while the client waits for its answer, which it then gets', async () => {
    const { port, seen, release } = await serveOne();
    let answer = '';
    const sock = connect(port, '127.0.0.1', () => sock.write(REQUEST.replace('Host: x', 'Host: x\r\nConnection: close')));
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect(await seen).toBe(false);
    await new Promise((r) => sock.on('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
