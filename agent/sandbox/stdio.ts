// The payload's stdin/stdout/stderr, opened by the payload's own side: the wrapper, after the
// identity switch, as the mapped account (issue 11, items 1 and 4). The agent never opens a
// job's stdio path, neither as root nor as the pilot, and never reopens a descriptor someone
// else opened with new rights (a root reopen of /proc/<pid>/fd/N let a same-uid ptrace swap the
// descriptor for one to a root file). Node has no dup2: fd N is closed and the file opened at
// once, so the kernel hands out the lowest free number, N; the wrapper checks it got N.
// process.execve clears close-on-exec on fds 0-2, so the payload inherits them.
// Opens are O_NONBLOCK|O_NOCTTY and must end on a regular file or a character device: a FIFO
// would block its opener (no reader/writer yet) and is refused, like sockets and directories.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { errnoCode } from '../../shared/errors.ts';
import { launchError, type LaunchError } from './launch-error.ts';

export interface StdioPaths {
  stdin: string | null;
  stdout: string | null;
  stderr: string | null;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_NONBLOCK, O_NOCTTY } = constants;
const READ = O_RDONLY | O_NOCTTY;
/** Truncate like a shell's `>`; append so that stdout and stderr on one file never overwrite each other. */
const WRITE = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOCTTY;
const APPEND = O_WRONLY | O_APPEND | O_NOCTTY;

/**
 * Open one stdio path as the calling process (the wrapper, already the mapped account).
 * Returns the descriptor (close-on-exec, as libuv opens everything) or a launch error naming it.
 */
export function openPayloadFile(path: string, flags: number, what: string): number | LaunchError {
  let fd: number;
  try {
    fd = openSync(path, flags | O_NONBLOCK, 0o600);
  } catch (e) {
    const code = errnoCode(e) ?? 'EIO';
    // O_NONBLOCK write-open of a FIFO without a reader.
    if (code === 'ENXIO') return launchError('stdio', 'NOT_A_FILE', `the job's ${what} ${path} is a FIFO or device nobody serves; expected a regular file`, true);
    return launchError('stdio', code, `cannot open the job's ${what} ${path} as uid ${process.getuid?.()}: ${(e as Error).message}`);
  }
  const st = fstatSync(fd);
  if (st.isFile()) return fd; // O_NONBLOCK means nothing for a regular file
  closeSync(fd);
  if (!st.isCharacterDevice()) {
    const kind = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'not a regular file';
    return launchError('stdio', 'NOT_A_FILE', `the job's ${what} ${path} is ${kind}; expected a regular file or a character device such as /dev/null`, true);
  }
  // A character device (/dev/null, a terminal): opened again without O_NONBLOCK, as this same
  // account, so the payload gets ordinary blocking I/O.
  try {
    return openSync(path, flags & ~(O_CREAT | O_TRUNC));
  } catch (e) {
    return launchError('stdio', errnoCode(e) ?? 'EIO', `cannot open the job's ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Put `path` at descriptor `target` (0, 1 or 2): close it, open, check the number the kernel chose. */
function placeAt(target: number, path: string, flags: number, what: string): LaunchError | null {
  try {
    closeSync(target);
  } catch {
    /* already closed */
  }
  const fd = openPayloadFile(path, flags, what);
  if (typeof fd !== 'number') return fd;
  if (fd === target) return null;
  closeSync(fd);
  return launchError('stdio', 'EIO', `the job's ${what} landed on descriptor ${fd}, not ${target}`, false);
}

/**
 * In the wrapper, after the identity switch: make fds 0-2 the job's stdio files, opened as this
 * account. Fd 0 is always replaced (it carried the channel secret); a missing path is /dev/null.
 */
export function placePayloadStdio(paths: StdioPaths): LaunchError | null {
  return (
    placeAt(0, paths.stdin ?? '/dev/null', READ, 'stdin') ??
    (paths.stdout ? placeAt(1, paths.stdout, WRITE, 'stdout') : null) ??
    (paths.stderr ? placeAt(2, paths.stderr, paths.stderr === paths.stdout ? APPEND : WRITE, 'stderr') : null)
  );
}

/** Flags for a tty job's output file (written by the output copier). */
export const OUTPUT_FLAGS = WRITE;

export function isLaunchError(v: unknown): v is LaunchError {
  return typeof v === 'object' && v !== null && 'stage' in v && 'permanent' in v;
}
