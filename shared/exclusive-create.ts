// A new file, created whole or not at all (issue 26 item 2): the content goes to a temp file in
// the same directory (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), is fsynced, and is then linked
// under its name; link() fails with EEXIST instead of replacing, so two processes starting at
// once agree on one value and an existing file is never overwritten. The directory is fsynced
// last. A full disk or any other failure leaves no file under the name (a 0-byte signing key
// once broke the next 'serve') and raises one GlideinError naming the file and the errno.
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { GlideinError, errnoCode, type ErrorCode } from './errors.ts';

export interface ExclusiveCreateOptions {
  /** The code of a failure other than EEXIST (default GLIDEIN_ERR_STATE). */
  code?: ErrorCode;
  /** What the file is, for the message (e.g. 'S-CRED signing key'). */
  what: string;
}

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
};

/** `ENOSPC: no space left on device`, or the bare errno / message. */
export function describeErrno(cause: unknown): string {
  const errno = errnoCode(cause);
  if (errno === undefined) return cause instanceof Error ? cause.message : String(cause);
  const words = ERRNO_WORDS[errno];
  return words === undefined ? errno : `${errno}: ${words}`;
}

/** The temp name beside `path`; it never ends like the real names readers look for (*.jwk …). */
function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Why the temp file could not be made, in the words an operator acts on. */
function tempCreateStep(dir: string, cause: unknown): string {
  const errno = errnoCode(cause);
  if (errno === 'ENOENT') return `its directory ${dir} does not exist; creating a temp file`;
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') return `its directory ${dir} is not writable; creating a temp file`;
  return 'creating a temp file';
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) off += (await fh.write(bytes, off, bytes.byteLength - off)).bytesWritten;
  await fh.sync();
}

async function fsyncDirectory(dir: string): Promise<void> {
  const dh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * Create `path` with `content` (mode 0600), atomically and durably. Returns false, writing
 * nothing, if the file already exists; throws a GlideinError naming the file on any failure.
 */
export async function createFileExclusively(path: string, content: string | Uint8Array, options: ExclusiveCreateOptions): Promise<boolean> {
  const code = options.code ?? 'GLIDEIN_ERR_STATE';
  const fail = (step: string, cause: unknown, outcome = 'nothing was changed'): GlideinError =>
    new GlideinError(code, `cannot write ${options.what} ${path}: ${step} failed (${describeErrno(cause)}); ${outcome}`, {
      cause,
      details: { path, errno: errnoCode(cause) },
    });
  const tmp = tempNameFor(path);
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  let fh: FileHandle;
  try {
    fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (cause) {
    throw fail(tempCreateStep(dirname(path), cause), cause);
  }
  try {
    try {
      await fh.chmod(0o600);
      await writeAll(fh, bytes);
    } finally {
      await fh.close();
    }
    await fsp.link(tmp, path);
  } catch (cause) {
    if (errnoCode(cause) === 'EEXIST') return false;
    throw fail('writing', cause);
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
    if (typeof content === 'string') (bytes as Buffer).fill(0);
  }
  try {
    await fsyncDirectory(dirname(path));
  } catch (cause) {
    throw fail('syncing the directory', cause, 'the file is complete but may not survive a power loss');
  }
  return true;
}
