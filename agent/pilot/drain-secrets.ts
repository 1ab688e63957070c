// At the start of a drain the refresh token and the DPoP private key are no longer needed:
// nothing will refresh again, and the key the final status report signs with is in memory.
// Removing them first means a batch system's SIGKILL during the drain (Slurm's KillWait)
// leaves neither on disk (issue 12 item 3).
import { unlink } from 'node:fs/promises';
import type { Logger } from '../../shared/log.ts';
import type { CredStore } from '../store/index.ts';
import { errnoCode } from '../../shared/errors.ts';
import { PILOT_FILES } from './refresher.ts';

export async function removeRefreshSecrets(store: CredStore, log: Logger): Promise<void> {
  for (const name of [PILOT_FILES.refreshToken, PILOT_FILES.dpopKey]) {
    try {
      await unlink(store.pilotPath(name));
      store.expiry.delete(`pilot/${name}`);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') log.error('could not remove a refresh secret at drain start', { file: name, error: errnoCode(e) ?? String(e) });
    }
  }
  log.info('drain: refresh token and DPoP key removed from disk');
}
