// A tty job's output file. The payload's fds 0-2 are its terminal; the agent reads the terminal
// and the bytes must land in the job's `stdout` path. The agent never opens that path itself
// (issue 11, items 1 and 4): a small copier, `glidein wrapper tty-output PATH`, started as the
// mapped account (setuid: spawned with its uid/gid; helper: through the helper), opens it with
// the account's rights and copies its stdin there. In `none` mode the payload is the agent's
// own account, so the agent opens it directly.
import { spawn } from 'node:child_process';
import { createWriteStream, writeSync, closeSync } from 'node:fs';
import { launchError, parseLaunchRecord, type LaunchError } from './launch-error.ts';
import { OUTPUT_FLAGS, openPayloadFile } from './stdio.ts';

export interface TtyOutput {
  write(data: string): void;
  /** Resolves when everything written is in the file (the copier has exited). */
  close(): Promise<void>;
}

/** How the copier becomes the account: a command prefix (the helper) and/or uid/gid for spawn. */
export interface CopierLaunch {
  argv: string[];
  uid?: number;
  gid?: number;
  timeoutMs: number;
}

const NOWHERE: TtyOutput = { write: () => undefined, close: () => Promise.resolve() };

function direct(path: string): TtyOutput | LaunchError {
  const fd = openPayloadFile(path, OUTPUT_FLAGS, 'stdout');
  if (typeof fd !== 'number') return fd;
  return {
    write: (d) => {
      try {
        writeSync(fd, d);
      } catch {
        /* output file gone: keep running */
      }
    },
    close: () => Promise.resolve(closeSync(fd)),
  };
}

function viaCopier(launch: CopierLaunch): Promise<TtyOutput | LaunchError> {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NODE_NO_WARNINGS: '1' };
  const ids = launch.uid === undefined ? {} : { uid: launch.uid, gid: launch.gid! };
  const cp = spawn(launch.argv[0]!, launch.argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'], env, cwd: '/', ...ids });
  cp.stdin.on('error', () => undefined);
  const exited = new Promise<void>((r) => cp.on('exit', () => r()));
  const close = async () => {
    cp.stdin.end();
    const t = setTimeout(() => cp.kill('SIGKILL'), launch.timeoutMs);
    await exited;
    clearTimeout(t);
  };
  const output: TtyOutput = { write: (d) => void cp.stdin.write(d), close };
  return new Promise((resolve) => {
    let line = '';
    const fail = (e: LaunchError) => {
      cp.kill('SIGKILL');
      resolve(e);
    };
    const timer = setTimeout(() => fail(launchError('stdio', 'ETIMEDOUT', `the tty output copier did not open the stdout file within ${launch.timeoutMs / 1000} s`, false)), launch.timeoutMs);
    cp.on('error', (e) => fail(launchError('stdio', (e as { code?: string }).code ?? 'EIO', `cannot start the tty output copier ${launch.argv[0]}: ${e.message}`)));
    cp.on('exit', (code) => fail(parseLaunchRecord(line.trim()) ?? launchError('stdio', 'EIO', `the tty output copier exited with code ${code} before opening the stdout file`, false)));
    cp.stdout.on('data', (d: Buffer) => {
      line += d.toString();
      if (!line.includes('\n')) return;
      clearTimeout(timer);
      if (line === 'ok\n') resolve(output);
      else fail(parseLaunchRecord(line.trim()) ?? launchError('stdio', 'EIO', 'the tty output copier sent an unreadable answer', false));
    });
  });
}

/** Open a tty job's output: nowhere (no path), directly (`launch` null: same account), or through a copier. */
export async function openTtyOutput(path: string | null, launch: CopierLaunch | null): Promise<TtyOutput | LaunchError> {
  if (path === null) return NOWHERE;
  return launch === null ? direct(path) : viaCopier({ ...launch, argv: [...launch.argv, 'wrapper', 'tty-output', path] });
}

/** The copier's side (`glidein wrapper tty-output PATH`): open as this account, answer, copy stdin. */
export function runTtyOutputCopier(path: string): Promise<number> {
  const fd = openPayloadFile(path, OUTPUT_FLAGS, 'stdout');
  if (typeof fd !== 'number') {
    process.stdout.write(JSON.stringify(fd) + '\n');
    return Promise.resolve(1);
  }
  process.stdout.write('ok\n');
  const out = createWriteStream('', { fd });
  return new Promise((resolve) => {
    process.stdin.pipe(out);
    out.on('finish', () => resolve(0));
    out.on('error', () => resolve(1));
  });
}

export interface EchoFilter {
  /** What of `data` belongs in the output file. */
  take(data: string): string;
  /** At the end: what is still held back (output that began like the echo but was not). */
  rest(): string;
}

/**
 * The terminal echoes the channel secret the agent typed into it before anything else appears
 * there (the wrapper prints nothing before exec); a helper that runs its command on a terminal
 * of its own (sudo's `use_pty`) echoes it once more. Drop exactly those leading echo lines.
 */
export function echoFilter(secret: string): EchoFilter {
  let pending = '';
  let passing = false;
  const echoLine = new RegExp(`^${secret}\r*\n`);
  const couldBeEcho = (t: string) => secret.startsWith(t) || (t.startsWith(secret) && /^\r*$/.test(t.slice(secret.length)));
  return {
    take(data) {
      if (passing) return data;
      pending += data;
      for (let m = echoLine.exec(pending); m; m = echoLine.exec(pending)) pending = pending.slice(m[0].length);
      if (pending === '' || couldBeEcho(pending)) return '';
      passing = true;
      const out = pending;
      pending = '';
      return out;
    },
    rest() {
      const out = pending;
      pending = '';
      return out;
    },
  };
}
