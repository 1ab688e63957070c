// A lossy TCP proxy on loopback, in front of the refresh service: per chunk from the client, it
// may reset the connection before forwarding (the service never sees the request complete, so
// nothing is committed); per chunk from the service, it may reset the client instead of
// forwarding (the service committed and answered; the answer is lost). Chance decided per chunk.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LossyProxy {
  port: number;
  /** Connections reset before the request reached the service / answers lost after it. */
  stats: { connections: number; resetsBefore: number; dropsAfter: number };
  close(): Promise<void>;
}

export async function startLossyProxy(target: { port: number; host?: string }, loss: { before: number; after: number }, random: () => number = Math.random): Promise<LossyProxy> {
  const stats = { connections: 0, resetsBefore: 0, dropsAfter: 0 };
  const sockets = new Set<Socket>();
  const kill = (client: Socket, upstream: Socket) => {
    client.resetAndDestroy();
    upstream.destroy();
  };
  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (d: Buffer) => {
      if (random() < loss.before) {
        stats.resetsBefore++;
        return kill(client, upstream);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (random() < loss.after) {
        stats.dropsAfter++;
        return kill(client, upstream);
      }
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    stats,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
