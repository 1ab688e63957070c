// What serve, register and revoke share: the opened state store, the POOL key and the S-CRED
// signing keys for one state directory and config.
import { readFileSafely } from '../shared/safe-open.ts';
import type { SigningKeyFile } from '../shared/idtoken.ts';
import { readPoolKeyFile } from './pool-key-file.ts';
import { ConfigError } from '../shared/errors.ts';
import type { ServiceConfig } from './config.ts';
import { fileKeySource, hasStoredSigningKeys, loadSigningKeys, type SigningKeySet, type SigningKeySource } from './signing-keys.ts';
import { ensureStateDir } from './state-dir.ts';
import { SqliteStateStore } from './state/sqlite-store.ts';
import type { StateStore } from './state/store.ts';
import { openPostgresStore } from './state/postgres-open.ts';
import { sealingKey } from './state/postgres-seal.ts';
import { openSharedState } from './state/postgres-context.ts';
import { openEntryRuntime, type EntryRuntime } from './entries/entry-runtime.ts';

export interface ServiceContext {
  store: StateStore;
  poolKey: SigningKeyFile;
  signingKeys: SigningKeySet;
  /** PEM put into bundles as `ca` (from `bundleCaFile`), if any. */
  bundleCa: string | undefined;
  /** Where a running server re-reads the signing keys: the state dir, or the shared database. */
  keySource: SigningKeySource;
  /** Entry POOL keys and IdP token sources (issue 15). */
  entries: EntryRuntime;
  /** What this open made that a service's identity rests on (the server logs it loudly). */
  made: { stateDir: boolean; signingKey: boolean };
}

export interface OpenOptions {
  /** Make a missing state dir (default true; 'serve' without --init passes false). */
  createStateDir?: boolean;
}

export type StoreConfig = Pick<ServiceConfig, 'stateSynchronous' | 'database' | 'databasePasswordFile'>;

/** The state store: the shared PostgreSQL database when `database` is set, else SQLite in the state dir. */
/** `poolKey` (the POOL key's HS256 key) seals pushed VO tokens; without it the store cannot keep them. */
export async function openStore(stateDir: string, config: StoreConfig, poolKey?: Buffer): Promise<StateStore> {
  const sealKey = poolKey === undefined ? {} : { sealKey: sealingKey(poolKey) };
  if (config.database !== '') return openPostgresStore(config, { ...(poolKey === undefined ? {} : { poolKey }) });
  return new SqliteStateStore(stateDir, { synchronous: config.stateSynchronous, ...sealKey });
}

export async function openServiceContext(stateDir: string, config: ServiceConfig, options: OpenOptions = {}): Promise<ServiceContext> {
  // Key files first: a bad key must fail before anything is created or opened.
  const poolKey = await readPoolKeyFile(config.poolSigningKeyFile, 'poolSigningKeyFile');
  const entries = await openEntryRuntime(config, poolKey);
  let bundleCa: string | undefined;
  if (config.bundleCaFile !== '') {
    bundleCa = (await readFileSafely(config.bundleCaFile, { code: 'GLIDEIN_ERR_CONFIG', what: 'bundleCaFile', maxBytes: 1024 * 1024 })).toString('utf8');
    if (!bundleCa.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`bundleCaFile ${config.bundleCaFile}: expected PEM certificates`);
  }
  const madeStateDir = await ensureStateDir(stateDir, { create: options.createStateDir !== false });
  if (config.database !== '') {
    // Several instances: store, signing keys and their rotations all shared through the database.
    const shared = await openSharedState(config, poolKey.key);
    return { ...shared, poolKey, bundleCa, entries, made: { stateDir: madeStateDir, signingKey: false } };
  }
  const hadKeys = await hasStoredSigningKeys(stateDir);
  const signingKeys = await loadSigningKeys(stateDir);
  const store = await openStore(stateDir, config, poolKey.key);
  return { store, poolKey, signingKeys, bundleCa, keySource: fileKeySource(stateDir), entries, made: { stateDir: madeStateDir, signingKey: !hadKeys } };
}
