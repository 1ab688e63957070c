// Revoking pilots from the command line (the same state the running server reads): one glidein,
// or every glidein of an entry. A revoked family's tokens are refused at the next refresh.
// A name that matches no pilot at all is an error (exit 1, naming it), so a typo is never
// mistaken for "already revoked" (issue 26 item 4); one whose pilots are all revoked already
// answers 0, as before.
import { existsSync } from 'node:fs';
import { GlideinError, UsageError } from '../shared/errors.ts';
import { isSafeId } from '../shared/protocol.ts';
import { openStore, type StoreConfig } from './context.ts';
import type { StateStore } from './state/store.ts';

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
  const config = options.config ?? { stateSynchronous: 'full', database: '', databasePasswordFile: '' };
  // A typo must not create an empty state dir and report that nothing matched in it.
  if (config.database === '' && !existsSync(options.stateDir)) {
    throw new UsageError(`refresh-service revoke: --state ${options.stateDir}: no such directory (expected the directory 'refresh-service serve --state' uses)`);
  }
  const store = await openStore(options.stateDir, config);
  try {
    const now = Math.floor(Date.now() / 1000);
    const reason = options.reason ?? 'revoked by operator';
    const n = glideinId !== undefined ? await store.revokeByGlideinId(target, reason, now) : await store.revokeByEntry(target, reason, now);
    if (n === 0) await assertSomethingMatched(store, glideinId, entry);
    return n;
  } finally {
    await store.close();
  }
}

async function assertSomethingMatched(store: StateStore, glideinId: string | undefined, entry: string | undefined): Promise<void> {
  if (glideinId !== undefined) {
    if ((await store.getFamily(glideinId)) === undefined) {
      throw new GlideinError('GLIDEIN_ERR_NOT_FOUND', `refresh-service revoke: no pilot with --glidein-id '${glideinId}' (nothing was revoked)`, { details: { glidein_id: glideinId } });
    }
  } else if ((await store.listPilots({ entry: entry! })).length === 0) {
    throw new GlideinError('GLIDEIN_ERR_NOT_FOUND', `refresh-service revoke: no pilot of --entry '${entry!}' (nothing was revoked)`, { details: { entry } });
  }
}
