// Revoking pilots from the command line (the same state the running server reads): one glidein,
// or every glidein of an entry. A revoked family's tokens are refused at the next refresh.
import { UsageError } from '../shared/errors.ts';
import { isSafeId } from '../shared/protocol.ts';
import { openStore, type StoreConfig } from './context.ts';
import { ensureStateDir } from './state-dir.ts';

export interface RevokeOptions {
  stateDir: string;
  glideinId?: string;
  entry?: string;
  reason?: string;
  /** The service config's state keys (the shared database, if any). */
  config?: StoreConfig;
}

/** Revoke by glidein id or by entry (exactly one); returns how many live families were revoked. */
export async function revokePilots(options: RevokeOptions): Promise<number> {
  const { glideinId, entry } = options;
  if ((glideinId === undefined) === (entry === undefined)) throw new UsageError('refresh-service revoke: give exactly one of --glidein-id or --entry');
  const target = (glideinId ?? entry)!;
  if (!isSafeId(target)) throw new UsageError(`${glideinId !== undefined ? '--glidein-id' : '--entry'} '${target}' is not valid; expected letters, digits, and _.@:-`);
  await ensureStateDir(options.stateDir);
  const store = await openStore(options.stateDir, options.config ?? { stateSynchronous: 'full', database: '', databasePasswordFile: '' });
  try {
    const now = Math.floor(Date.now() / 1000);
    const reason = options.reason ?? 'revoked by operator';
    return glideinId !== undefined ? await store.revokeByGlideinId(target, reason, now) : await store.revokeByEntry(target, reason, now);
  } finally {
    await store.close();
  }
}
