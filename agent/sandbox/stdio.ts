// Opening a job's stdin/stdout/stderr files. Node cannot dup2 in the wrapper, so the files are
// opened before the wrapper starts and handed to it as its stdio. A root agent must not open
// user-chosen paths as root (that would let a job truncate /etc/shadow), so when the payload
// runs as another account a tiny /bin/sh started as that account opens them — with the
// account's own permissions, symlinks resolved as the account — and the agent takes over the
// very same files through /proc/<pid>/fd/N.
import { spawn } from 'node:child_process';
import { openSync, closeSync, constants } from 'node:fs';
import { launchError, type LaunchError } from './launch-error.ts';

export interface StdioPaths {
  stdin: string | null;
  stdout: string | null;
  stderr: string | null;
}

export interface OpenedStdio {
  stdin: number | null;
  stdout: number | null;
  stderr: number | null;
  close(): void;
}

function codeFromShell(text: string): string {
  if (/No such file|nonexistent|not found/i.test(text)) return 'ENOENT';
  if (/Permission denied/i.test(text)) return 'EACCES';
  if (/Is a directory/i.test(text)) return 'EISDIR';
  if (/Not a directory/i.test(text)) return 'ENOTDIR';
  return 'EIO';
}

function closer(fds: (number | null)[]): () => void {
  const unique = [...new Set(fds.filter((f): f is number => f !== null))];
  return () => {
    for (const fd of unique) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  };
}

function openDirect(paths: StdioPaths): OpenedStdio | LaunchError {
  const opened: (number | null)[] = [];
  try {
    const stdin = paths.stdin ? openSync(paths.stdin, 'r') : null;
    opened.push(stdin);
    const stdout = paths.stdout ? openSync(paths.stdout, 'w', 0o600) : null;
    opened.push(stdout);
    const stderr = paths.stderr ? (paths.stderr === paths.stdout ? stdout : openSync(paths.stderr, 'w', 0o600)) : null;
    opened.push(stderr);
    return { stdin, stdout, stderr, close: closer(opened) };
  } catch (e) {
    closer(opened)();
    const code = (e as { code?: string }).code ?? 'EIO';
    return launchError('stdio', code, `cannot open the job's stdio file: ${(e as Error).message}`);
  }
}

function openAsAccount(paths: StdioPaths, account: { uid: number; gid: number }): Promise<OpenedStdio | LaunchError> {
  const lines: string[] = [];
  const args: string[] = [];
  const add = (redir: string, fd: number, path: string) => {
    args.push(path);
    lines.push(`exec ${fd}${redir}"$${args.length}"`);
  };
  if (paths.stdin) add('<', 3, paths.stdin);
  if (paths.stdout) add('>', 4, paths.stdout);
  if (paths.stderr && paths.stderr !== paths.stdout) add('>', 5, paths.stderr);
  const script = `umask 077; ${lines.join(' && ')} && echo ok && read x`;
  return new Promise((resolve) => {
    const sh = spawn('/bin/sh', ['-c', script, 'sh', ...args], { uid: account.uid, gid: account.gid, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
    let out = '';
    let err = '';
    let done = false;
    const finish = (v: OpenedStdio | LaunchError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sh.stdin.end();
      resolve(v);
    };
    const timer = setTimeout(() => {
      sh.kill('SIGKILL');
      finish(launchError('stdio', 'ETIMEDOUT', 'opening the stdio files took longer than 10 s', false));
    }, 10_000);
    sh.on('error', (e) => finish(launchError('stdio', (e as { code?: string }).code ?? 'EIO', `cannot start /bin/sh to open the stdio files: ${e.message}`)));
    sh.stderr.on('data', (d: Buffer) => (err += d.toString()));
    sh.on('exit', () => {
      if (!done) finish(launchError('stdio', codeFromShell(err), `cannot open the job's stdio file as uid ${account.uid}: ${err.trim().replace(/^sh: \d+: /, '')}`));
    });
    sh.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('ok')) return;
      const opened: (number | null)[] = [];
      try {
        const at = (fd: number, flags: number) => openSync(`/proc/${sh.pid}/fd/${fd}`, flags);
        const stdin = paths.stdin ? at(3, constants.O_RDONLY) : null;
        opened.push(stdin);
        const stdout = paths.stdout ? at(4, constants.O_WRONLY | constants.O_APPEND) : null;
        opened.push(stdout);
        const stderr = paths.stderr ? (paths.stderr === paths.stdout ? stdout : at(5, constants.O_WRONLY | constants.O_APPEND)) : null;
        opened.push(stderr);
        finish({ stdin, stdout, stderr, close: closer(opened) });
      } catch (e) {
        closer(opened)();
        finish(launchError('stdio', (e as { code?: string }).code ?? 'EIO', `cannot take over the job's stdio files: ${(e as Error).message}`, false));
      }
    });
  });
}

/**
 * Open the job's stdio files as the account the payload runs as. `account` null = as this
 * agent (none mode, or a non-root agent that cannot act for anyone else).
 */
export async function openJobStdio(paths: StdioPaths, account: { uid: number; gid: number } | null): Promise<OpenedStdio | LaunchError> {
  if (!paths.stdin && !paths.stdout && !paths.stderr) return { stdin: null, stdout: null, stderr: null, close: () => undefined };
  if (account && process.geteuid?.() === 0 && account.uid !== 0) return openAsAccount(paths, account);
  return openDirect(paths);
}

export function isLaunchError(v: unknown): v is LaunchError {
  return typeof v === 'object' && v !== null && 'stage' in v && 'permanent' in v;
}
