// Safe reads of credential files: no symlinks, no foreign owner, no group/other permission bits
// (the rules HTCondor applies to its token and key files, INTEROP.md).
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { GlideinError, errnoCode } from '../../shared/errors.ts';

export interface SafeReadOptions {
  /** The uid that must own the file; default: this process's effective uid. */
  expectedUid?: number;
  /** Refuse files larger than this (bytes); default 1 MiB — a credential is never that big. */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;

function unsafe(path: string, problem: string, details: Record<string, unknown> = {}): GlideinError {
  return new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${path}: ${problem}`, { details: { path, ...details } });
}

/**
 * Read a credential file, refusing a symlink (O_NOFOLLOW), anything but a regular file, a file
 * owned by another uid, and any group/other permission bit. The checks use fstat on the open
 * descriptor, so the file checked is the file read. O_NONBLOCK keeps a planted FIFO from hanging us.
 */
export async function safeReadFile(path: string, options: SafeReadOptions = {}): Promise<Buffer> {
  const expectedUid = options.expectedUid ?? process.geteuid?.() ?? -1;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const errno = errnoCode(e);
    if (errno === 'ELOOP') throw unsafe(path, 'is a symlink; refusing to follow it', { errno });
    throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot open (${errno ?? String(e)})`, { cause: e, details: { path, errno } });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw unsafe(path, 'is not a regular file');
    if (st.uid !== expectedUid) {
      throw unsafe(path, `is owned by uid ${st.uid}, expected uid ${expectedUid}`, { uid: st.uid, expectedUid });
    }
    if ((st.mode & 0o077) !== 0) {
      throw unsafe(path, `has mode 0${(st.mode & 0o777).toString(8)}; group/other permission bits are not allowed (expected 0600 or stricter)`, {
        mode: st.mode & 0o777,
      });
    }
    if (st.size > maxBytes) throw unsafe(path, `is ${st.size} bytes, more than the ${maxBytes} allowed for a credential`);
    try {
      return await fh.readFile();
    } catch (e) {
      throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot read (${errnoCode(e) ?? String(e)})`, { cause: e, details: { path } });
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}
