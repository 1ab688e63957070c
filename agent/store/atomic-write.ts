// Atomic, durable file writes for credentials: a crash at any point leaves the old content or
// the new content under the target name, never a partial or empty file (DESIGN.md section 8).
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { GlideinError, errnoCode } from '../../shared/errors.ts';

export interface Owner {
  uid: number;
  gid: number;
}

export interface AtomicWriteOptions {
  /** Permission bits of the new file; default 0600. Applied with fchmod, so the umask does not matter. */
  mode?: number;
  /** Give the file to this account (fchown before any byte is written). Needs root unless it is us. */
  owner?: Owner;
}

/** Prefix of the store's temp files; credential names may not start with '.', so they never collide. */
export const TEMP_PREFIX = '.';
export const TEMP_MARKER = '.tmp-';

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.includes(TEMP_MARKER);
}

/**
 * Refuse an owner change this process cannot make, with a message that says why, instead of
 * a bare EPERM from fchown. Root may give files to anyone; others only to themselves.
 */
export function assertCanOwn(path: string, owner: Owner): void {
  if (!Number.isInteger(owner.uid) || owner.uid < 0 || !Number.isInteger(owner.gid) || owner.gid < 0) {
    throw new GlideinError('GLIDEIN_ERR_STORE_IO', `cannot give ${path} to uid ${owner.uid} gid ${owner.gid}: not a valid uid/gid`);
  }
  const euid = process.geteuid?.() ?? -1;
  if (euid !== 0 && owner.uid !== euid) {
    throw new GlideinError(
      'GLIDEIN_ERR_STORE_IO',
      `cannot give ${path} to uid ${owner.uid}: this process runs as uid ${euid}, not root, and can only own files itself`,
      { details: { path, uid: owner.uid, euid } },
    );
  }
}

function ioError(action: string, path: string, cause: unknown): GlideinError {
  const errno = errnoCode(cause);
  if (errno === 'ELOOP') {
    return new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${path}: refusing to ${action} through a symlink`, {
      cause,
      details: { path, errno },
    });
  }
  return new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot ${action} (${errno ?? String(cause)})`, {
    cause,
    details: { path, errno },
  });
}

/** fsync a directory so a rename or unlink in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    await fh.sync();
  } catch (e) {
    throw ioError('fsync the directory', dir, e);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Write `data` to `path` atomically and durably: a temp file in the same directory, opened with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or symlink is never written through), fchmod and
 * fchown on the descriptor, write, fsync, rename over the target (rename replaces a symlink at
 * the target, it does not follow it), then fsync the directory.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: file mode ${String(mode)} is not between 0 and 0777`);
  }
  if (options.owner) assertCanOwn(path, options.owner);
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(6).toString('hex')}`);
  // Our own copy of a string secret, zeroed when done; a caller's buffer is the caller's to drop.
  const ownCopy = typeof data === 'string';
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fh: FileHandle | undefined;
  let created = false;
  try {
    try {
      fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      created = true;
    } catch (e) {
      throw ioError('create a temp file', tmp, e);
    }
    try {
      if (options.owner) await fh.chown(options.owner.uid, options.owner.gid);
      await fh.chmod(mode);
      let off = 0;
      while (off < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, off, bytes.byteLength - off);
        off += bytesWritten;
      }
      await fh.sync();
    } catch (e) {
      throw ioError('write', tmp, e);
    } finally {
      const h = fh;
      fh = undefined;
      await h.close();
    }
    try {
      await fsp.rename(tmp, path);
      created = false;
    } catch (e) {
      throw ioError('rename a temp file over', path, e);
    }
    await fsyncDir(dir);
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    if (ownCopy) (bytes as Buffer).fill(0);
  }
}
