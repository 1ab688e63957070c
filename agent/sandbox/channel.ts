// The spec channel and close-on-exec error channel between the agent and the wrapper
// (DESIGN.md section 7.3-7.4). The agent listens on a Unix socket in a private directory; the
// wrapper (started under the target identity, possibly by a helper such as sudo that closes
// every inherited descriptor >= 3) connects, reads one JSON line (the wrapper spec), and keeps
// the connection. libuv opens sockets with SOCK_CLOEXEC, so a successful execve closes it:
// end-of-file before any byte means the payload is running; anything else is exactly one
// JSON record {stage, code, message, permanent}. Success is never inferred from stdout closing.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod } from 'node:fs/promises';
import { launchError, parseLaunchRecord, type LaunchError } from './launch-error.ts';
import type { IdentityMode } from './policy.ts';

/** What the wrapper needs: all of it decided by the agent; credentials only when the wrapper must write them. */
export interface WrapperSpec {
  v: 1;
  jobId: string;
  mode: IdentityMode;
  user: { name: string; uid: number; gid: number } | null;
  executable: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  umask: number;
  /** Credentials the wrapper writes itself into its own 0700 dir (helper mode, agent not root). */
  credentials: { name: string; data: string }[] | null;
  /** Which credential BEARER_TOKEN_FILE names when the wrapper writes them. */
  bearerName: string | null;
}

export const MAX_SPEC_BYTES = 4 * 1024 * 1024;
const MAX_RECORD_BYTES = 64 * 1024;

export type ChannelOutcome =
  | { kind: 'exec-ok' }
  | { kind: 'error'; error: LaunchError }
  | { kind: 'no-connection' };

export interface SpecChannel {
  readonly path: string;
  /** Resolves once a wrapper connected and the spec was sent; then resolves the outcome. */
  exchange(spec: WrapperSpec): Promise<ChannelOutcome>;
  /** Stop waiting (child died, timeout, kill): a pending exchange resolves `no-connection`. */
  abandon(): void;
  close(): void;
}

/**
 * Listen on `path` (inside a directory only the agent — and in helper mode the target account
 * through an unguessable name — can reach). `worldConnectable` makes the socket connectable by
 * the account a helper switched to; the first connection wins, the listener closes at once.
 */
export async function openSpecChannel(path: string, worldConnectable: boolean): Promise<SpecChannel> {
  const server: Server = createServer({ allowHalfOpen: true });
  let first: ((s: Socket) => void) | null = null;
  let pendingSocket: Socket | null = null;
  let abandonFn: (() => void) | null = null;
  server.on('connection', (s) => {
    if (pendingSocket || !first) {
      if (!first && !pendingSocket) {
        pendingSocket = s;
        server.close();
        return;
      }
      s.destroy();
      return;
    }
    pendingSocket = s;
    server.close();
    first(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  if (worldConnectable) await chmod(path, 0o666);
  else await chmod(path, 0o600);

  return {
    path,
    exchange(spec) {
      return new Promise<ChannelOutcome>((resolve) => {
        let settled = false;
        const done = (o: ChannelOutcome) => {
          if (settled) return;
          settled = true;
          resolve(o);
        };
        abandonFn = () => {
          pendingSocket?.destroy();
          done({ kind: 'no-connection' });
        };
        const talk = (s: Socket) => {
          const chunks: Buffer[] = [];
          let size = 0;
          s.on('data', (d: Buffer) => {
            size += d.length;
            if (size > MAX_RECORD_BYTES) {
              s.destroy();
              done({ kind: 'error', error: launchError('wrapper', 'BAD_RECORD', 'the wrapper sent more than one record', false) });
              return;
            }
            chunks.push(d);
          });
          const finish = () => {
            if (size === 0) return done({ kind: 'exec-ok' });
            const text = Buffer.concat(chunks).toString('utf8').trim();
            const rec = parseLaunchRecord(text);
            done({ kind: 'error', error: rec ?? launchError('wrapper', 'BAD_RECORD', 'the wrapper sent an unreadable record', false) });
          };
          s.on('end', finish);
          s.on('close', finish);
          s.on('error', () => undefined);
          s.write(JSON.stringify(spec) + '\n');
        };
        if (pendingSocket) talk(pendingSocket);
        else first = talk;
      });
    },
    abandon() {
      if (abandonFn) abandonFn();
      server.close();
    },
    close() {
      server.close();
      pendingSocket?.destroy();
    },
  };
}
