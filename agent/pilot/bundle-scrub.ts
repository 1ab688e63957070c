// Once the store holds the refresh token, the pilot's copy of the bundle no longer needs it
// (issue 11 item 11): the bundle file is rewritten atomically without `refresh_token` (temp file
// in the same directory, O_EXCL|O_NOFOLLOW, 0600, fsync, rename, fsync the directory), with a
// marker so that a second pilot started from the same file (a batch system's requeue) gets a
// clear error instead of presenting a spent token. The bundle loader already refused any file
// that is not ours (owner, mode, no symlink), so nothing owned by someone else is touched; a
// bundle in a directory we cannot write (a read-only CE staging area) is left as it is, with a
// warning: after the first refresh its token is spent, and a spent token presented with another
// key changes nothing (the service's rule).
import type { Logger } from '../../shared/log.ts';
import { errnoCode } from '../../shared/errors.ts';
import { atomicWriteFile } from '../store/index.ts';
import { readBundleJson, SCRUBBED_MARKER } from './bundle.ts';

export type ScrubOutcome = 'scrubbed' | 'already' | 'left';

export async function scrubBundleRefreshToken(path: string, nowS: number, log: Logger): Promise<ScrubOutcome> {
  let json: Record<string, unknown>;
  try {
    json = readBundleJson(path) as Record<string, unknown>;
  } catch (e) {
    log.warn('could not re-read the bundle to remove its refresh token', { bundle: path, error: (e as Error).message });
    return 'left';
  }
  if (json['refresh_token'] === undefined) return 'already';
  const { refresh_token: _drop, ...rest } = json;
  try {
    await atomicWriteFile(path, JSON.stringify({ ...rest, [SCRUBBED_MARKER]: nowS }) + '\n', { mode: 0o600 });
  } catch (e) {
    log.warn('the bundle file keeps its refresh token: it could not be rewritten', { bundle: path, error: errnoCode(e) ?? (e as Error).message });
    return 'left';
  }
  log.info('refresh token removed from the bundle file (the store holds it now)', { bundle: path });
  return 'scrubbed';
}
