// A credential-store write that failed after the refresh service had already answered (issue
// 26 item 2): the old refresh token is spent and its successor exists only in memory. Another
// refresh would spend that one too and fail to keep the next, so the refresher stops refreshing
// until the store can write, and the pilot drains. A full disk (ENOSPC, or a quota: EDQUOT) is
// 'disk-full'; any other write failure 'store-unwritable'.
import { dirname } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';

export interface StoreFailure {
  reason: 'disk-full' | 'store-unwritable';
  /** The directory the write was for (cred.d/pilot or cred.d/idtokens). */
  dir: string;
  errno: string;
  /** The store's own error message (names the file and what it could not do). */
  message: string;
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/** What a failed store write says (its GlideinError details carry the path and errno). */
export function storeFailureOf(e: unknown, fallbackDir: string): StoreFailure {
  const details = (e as { details?: { path?: unknown; errno?: unknown } }).details;
  const path = typeof details?.path === 'string' ? details.path : undefined;
  const own = errnoCode(e);
  const errno = (typeof details?.errno === 'string' ? details.errno : undefined) ?? errnoCode((e as { cause?: unknown }).cause) ?? (own?.startsWith('GLIDEIN_') ? undefined : own) ?? 'EIO';
  return {
    reason: DISK_FULL.has(errno) ? 'disk-full' : 'store-unwritable',
    dir: path === undefined ? fallbackDir : dirname(path),
    errno,
    message: (e as Error).message ?? String(e),
  };
}

/** The error-level line that says so, naming the dir (never a secret: paths and errno only). */
export function storeFailureLine(f: StoreFailure): string {
  const what = f.reason === 'disk-full' ? `disk full (${f.errno})` : `cannot write (${f.errno})`;
  return `credential store ${what} in ${f.dir}: the refresh token the service just issued could not be kept; no more refreshes until the store can write (each would spend a token it cannot keep); draining`;
}
