// S-CRED signing keys shared by every instance through the database: the first instance to
// start publishes a key, the others use it; a rotation by any instance is signed with and
// published by all within `checkEveryMs`. A private key is stored sealed (AES-256-GCM, the kid
// as associated data) under a key derived from the POOL key, which every instance must hold to
// mint C-CREDs anyway: read access to the database alone cannot mint S-CREDs.
import { GlideinError } from '../../shared/errors.ts';
import { generateSigningKey, parseStoredSigningKey, signingKeySet, type ScitokenSigningKey, type SigningKeySet, type SigningKeySource } from '../signing-keys.ts';
import { stateError, type Sql } from './postgres-connect.ts';
import { seal, sealingKey, unseal } from './postgres-seal.ts';

/** pg_advisory_xact_lock key serialising the first key's creation. */
const KEYS_LOCK = 0x676c69646b79;

function opened(key: Buffer, kid: string, sealed: string, where: string): string {
  const plain = unseal(key, kid, sealed);
  if (plain === undefined) {
    throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `S-CRED signing key ${kid} in database ${where} cannot be opened with this instance's POOL key; every instance sharing a database must use the same poolSigningKeyFile`);
  }
  return plain;
}

/** A SigningKeySource (signing-keys.ts) for SigningKeyWatcher, and rotation. */
export class PostgresSigningKeys implements SigningKeySource {
  readonly #sql: Sql;
  readonly #where: string;
  readonly #key: Buffer;

  constructor(sql: Sql, where: string, poolKey: Buffer) {
    this.#sql = sql;
    this.#where = where;
    this.#key = sealingKey(poolKey);
  }

  /** Every key in the database, the first one created when there is none. */
  async load(): Promise<SigningKeySet> {
    let rows = await this.#rows();
    if (rows.length === 0) {
      await this.#insert(true);
      rows = await this.#rows();
    }
    return signingKeySet(rows.map((r) => parseStoredSigningKey(opened(this.#key, r.kid, r.sealed, this.#where), `${r.kid} in database ${this.#where}`)));
  }

  /** Add a new key; it becomes the active one on every instance. */
  async rotate(): Promise<ScitokenSigningKey> {
    return (await this.#insert(false))!;
  }

  /** A cheap fingerprint of the key table, to notice a rotation by another instance. */
  async version(): Promise<string> {
    const [row] = await this.#run(() => this.#sql<{ v: string }[]>`SELECT count(*)::text || ':' || coalesce(max(created_at), 0)::text AS v FROM signing_keys`);
    return row!.v;
  }

  async #rows(): Promise<{ kid: string; sealed: string }[]> {
    return this.#run(() => this.#sql<{ kid: string; sealed: string }[]>`SELECT kid, sealed FROM signing_keys`);
  }

  /** Insert a new key; with onlyIfNone, only when the table is empty (instances starting together make one). */
  async #insert(onlyIfNone: boolean): Promise<ScitokenSigningKey | undefined> {
    const { key, stored } = await generateSigningKey();
    return this.#run(() =>
      this.#sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${KEYS_LOCK})`;
        if (onlyIfNone && (await tx`SELECT 1 FROM signing_keys LIMIT 1`).length > 0) return undefined;
        await tx`INSERT INTO signing_keys (kid, created_at, sealed) VALUES (${key.kid}, ${key.createdAt}, ${seal(this.#key, key.kid, stored)})`;
        return key;
      }) as Promise<ScitokenSigningKey | undefined>,
    );
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw stateError(this.#where, e);
    }
  }
}
