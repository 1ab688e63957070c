// What an instance on the shared PostgreSQL database takes from it instead of its state dir:
// the store, the S-CRED signing keys (and where to re-read them), the admin token's hash.
import { createHash } from 'node:crypto';
import type { ScitokenSigningKey, SigningKeySet } from '../signing-keys.ts';
import { readPoolKeyFile } from '../pool-key-file.ts';
import type { StateStore } from './store.ts';
import { openPostgresStore, type DatabaseConfig } from './postgres-open.ts';
import { PostgresSigningKeys } from './postgres-signing-keys.ts';
import { PostgresStateStore } from './postgres-store.ts';
import { sharedAdminTokenHash } from './postgres-admin-token.ts';

export interface SharedState {
  store: PostgresStateStore;
  signingKeys: SigningKeySet;
  /** Where a running server re-reads the keys (SigningKeyWatcher), and rotate(). */
  keySource: PostgresSigningKeys;
}

/** Open the database (schema migrated under the lock) and its signing keys (made if none). */
export async function openSharedState(config: DatabaseConfig, poolKey: Buffer): Promise<SharedState> {
  const store = await openPostgresStore(config, { poolKey });
  try {
    const keySource = new PostgresSigningKeys(store.sql, store.where, poolKey);
    return { store, signingKeys: await keySource.load(), keySource };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** Add a signing key to the shared database: every instance signs with it within about a second. */
export async function rotateSharedSigningKey(config: DatabaseConfig & { poolSigningKeyFile: string }): Promise<ScitokenSigningKey> {
  const poolKey = await readPoolKeyFile(config.poolSigningKeyFile, 'poolSigningKeyFile');
  const { store, keySource } = await openSharedState(config, poolKey.key);
  try {
    return await keySource.rotate();
  } finally {
    await store.close();
  }
}

/** The hash admin requests are checked against: the database's shared one, else this state dir's token. */
export async function adminTokenHashFor(store: StateStore, localToken: string): Promise<Buffer> {
  if (store instanceof PostgresStateStore) return (await sharedAdminTokenHash(store.sql, store.where, localToken)).hash;
  return createHash('sha256').update(localToken).digest();
}
