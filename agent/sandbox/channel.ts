// The spec channel and close-on-exec error channel between the agent and the wrapper
// (DESIGN.md section 7.3-7.4). The agent listens on a Unix socket in a private directory; the
// wrapper (started under the target identity, possibly by a helper such as sudo that closes
// every inherited descriptor >= 3) connects, proves it is the wrapper this agent started,
// reads one JSON line (the wrapper spec), and keeps the connection. libuv opens sockets with
// SOCK_CLOEXEC, so a successful execve closes it: end-of-file before any byte means the
// payload is running; anything else is exactly one JSON record {stage, code, message,
// permanent}. Success is never inferred from stdout closing.
//
// Peer authentication (issue 11, item 2): the socket's name is public (/proc/net/unix), and in
// helper mode the directory is traversable. Node has no SO_PEERCRED, so the agent makes a
// one-time secret per launch and hands it to the wrapper on its stdin (a pipe the helper passes
// through; never argv, never the environment). The first line a peer sends must be that
// secret; until one does, the agent sends nothing and no connection counts: a stranger that
// connects first receives no byte, and its closing is not "the payload started". A root agent
// also gives the socket to the mapped account (0600), so other accounts cannot even connect.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, chown } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readSync } from 'node:fs';
import { launchError, parseLaunchRecord, type LaunchError } from './launch-error.ts';
import type { IdentityMode } from './policy.ts';
import type { StdioPaths } from './stdio.ts';
import type { WrapperContainer } from './wrapper-container.ts';

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
  /** Paths the wrapper opens as the account for fds 0-2 (a null path: /dev/null for stdin, the
   * wrapper's own otherwise); null for a tty job, whose fds 0-2 are its terminal. */
  stdio: StdioPaths | null;
  /** Credentials the wrapper writes itself into its own 0700 dir (helper mode, agent not root). */
  credentials: { name: string; data: string }[] | null;
  /** Which credential BEARER_TOKEN_FILE names when the wrapper writes them. */
  bearerName: string | null;
  /** Run the payload in this container (issue 22); null: bare. */
  container?: WrapperContainer | null;
}

export const MAX_SPEC_BYTES = 4 * 1024 * 1024;
const MAX_RECORD_BYTES = 64 * 1024;

export type ChannelOutcome =
  | { kind: 'exec-ok' }
  | { kind: 'error'; error: LaunchError }
  | { kind: 'no-connection' };

export interface SpecChannel {
  readonly path: string;
  /** The one-time secret the wrapper must send first (hex); the agent writes it to the wrapper's stdin. */
  readonly secret: string;
  /** A peer proved itself: it may have been sent the spec, so its answer (record or end-of-file) is due. */
  readonly proven: boolean;
  /**
   * Resolves once the wrapper proved itself and the spec was sent; then resolves the outcome.
   * `beforeSend` runs right before the spec goes out: the wrapper has forked nothing yet.
   */
  exchange(spec: WrapperSpec, beforeSend?: () => void): Promise<ChannelOutcome>;
  /** Stop waiting (child died, timeout, kill): a pending exchange resolves `no-connection`. */
  abandon(): void;
  close(): void;
}

/** Who may connect: a root agent hands the socket to the mapped account; otherwise helper mode needs 0666. */
export interface ChannelAccess {
  owner: { uid: number; gid: number } | null;
  foreignPeer: boolean;
}

const SECRET_BYTES = 32;
const SECRET_LINE_MAX = 2 * SECRET_BYTES + 1;
/** Connections that have not sent the secret yet: beyond this many the oldest is dropped, so a
 * local flood of idle connections cannot keep the wrapper (which sends at once) out. */
const MAX_UNPROVEN = 32;
/** An unproven connection gets this long to send the secret (the wrapper sends it on connect). */
const PROVE_WITHIN_MS = 5000;

function isSecret(line: string, secret: Buffer): boolean {
  const got = Buffer.from(line, 'utf8');
  return got.length === secret.length && timingSafeEqual(got, secret);
}

/**
 * Admit connections on `server` until one sends `secret` as its first line; that one goes to
 * `onProven` and the listener closes. `dropAll` ends every connection still unproven.
 */
function admitProvenPeer(server: Server, secret: Buffer, onProven: (s: Socket) => void): { dropAll(): void } {
  const unproven = new Set<Socket>();
  let proven = false;
  const drop = (s: Socket) => {
    unproven.delete(s);
    s.destroy();
  };
  server.on('connection', (s) => {
    if (proven) return void s.destroy();
    const oldest = unproven.size >= MAX_UNPROVEN ? unproven.values().next().value : undefined;
    if (oldest) drop(oldest);
    unproven.add(s);
    s.setTimeout(PROVE_WITHIN_MS, () => unproven.has(s) && drop(s));
    let line = '';
    const onData = (d: Buffer) => {
      line += d.toString('latin1');
      const nl = line.indexOf('\n');
      if (nl === -1 && line.length < SECRET_LINE_MAX) return;
      s.off('data', onData);
      s.pause();
      s.setTimeout(0);
      unproven.delete(s);
      // Wrong, overlong, or anything after the secret before the spec was sent: not our wrapper.
      if (nl === -1 || nl !== line.length - 1 || proven || !isSecret(line.slice(0, nl), secret)) return void s.destroy();
      proven = true;
      server.close();
      for (const other of [...unproven]) drop(other);
      onProven(s);
    };
    s.on('data', onData);
    s.on('error', () => undefined);
    s.on('close', () => unproven.delete(s));
  });
  return { dropAll: () => [...unproven].forEach(drop) };
}

/** Send the spec to the proven wrapper and read its answer: end-of-file alone, or one record. */
function talkToWrapper(s: Socket, spec: WrapperSpec, beforeSend: (() => void) | undefined, done: (o: ChannelOutcome) => void): void {
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
  s.resume();
  beforeSend?.();
  s.write(JSON.stringify(spec) + '\n');
}

/**
 * Listen on `path` (inside a directory only the agent can write). Only a peer whose first line
 * is the channel's secret is answered; the listener closes when one has.
 */
export async function openSpecChannel(path: string, access: ChannelAccess): Promise<SpecChannel> {
  const secretText = randomBytes(SECRET_BYTES).toString('hex');
  const server: Server = createServer({ allowHalfOpen: true });
  let peer: Socket | null = null;
  let onPeer: ((s: Socket) => void) | null = null;
  let abandonFn: (() => void) | null = null;
  const admission = admitProvenPeer(server, Buffer.from(secretText, 'utf8'), (s) => {
    peer = s;
    onPeer?.(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  if (access.owner) await chown(path, access.owner.uid, access.owner.gid);
  await chmod(path, access.foreignPeer && !access.owner ? 0o666 : 0o600);

  return {
    path,
    secret: secretText,
    get proven() {
      return peer !== null;
    },
    exchange(spec, beforeSend) {
      return new Promise<ChannelOutcome>((resolve) => {
        let settled = false;
        const done = (o: ChannelOutcome) => {
          if (settled) return;
          settled = true;
          resolve(o);
        };
        abandonFn = () => {
          peer?.destroy();
          done({ kind: 'no-connection' });
        };
        const talk = (s: Socket) => talkToWrapper(s, spec, beforeSend, done);
        if (peer) talk(peer);
        else onPeer = talk;
      });
    },
    abandon() {
      abandonFn?.();
      server.close();
      admission.dropAll();
    },
    close() {
      server.close();
      admission.dropAll();
      peer?.destroy();
    },
  };
}

/**
 * In the wrapper: the channel secret, the first line on stdin (written by the agent, passed
 * through by the helper). Blocking read; a helper that does not pass stdin gives end-of-file.
 */
export function readChannelSecret(fd = 0): string | null {
  const buf = Buffer.alloc(SECRET_LINE_MAX);
  let got = 0;
  const deadline = Date.now() + 30_000;
  while (got < buf.length) {
    let n: number;
    try {
      n = readSync(fd, buf, got, buf.length - got, null);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN' || Date.now() > deadline) return null;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      continue;
    }
    if (n === 0) break;
    got += n;
    if (buf.subarray(0, got).includes(0x0a)) break;
  }
  const text = buf.subarray(0, got).toString('latin1');
  const nl = text.indexOf('\n');
  return nl === 2 * SECRET_BYTES ? text.slice(0, nl) : null;
}
