// Pushed VO tokens at rest: both stores (SQLite and PostgreSQL) keep them sealed (postgres-seal.ts,
// AES-256-GCM under the POOL-derived key), each bound to its name, so reading state.db or the
// shared database gives no usable token away.
import { GlideinError } from '../../shared/errors.ts';
import { seal, unseal } from './postgres-seal.ts';

const aad = (name: string): string => `vo-credential:${name}`;

/** The key a store seals with, or a clear refusal when it was opened without one. */
export function voSealKey(key: Buffer | undefined, name: string): Buffer {
  if (key === undefined) throw new GlideinError('GLIDEIN_ERR_STATE', `VO credential '${name}': this store was opened without the POOL key that seals VO tokens`);
  return key;
}

export function sealVoToken(key: Buffer | undefined, name: string, token: string): string {
  return seal(voSealKey(key, name), aad(name), token);
}

/** The token; `where` names the store when it cannot be opened (another POOL key). */
export function openVoToken(key: Buffer | undefined, name: string, sealed: string, where: string): string {
  const token = unseal(voSealKey(key, name), aad(name), sealed);
  if (token === undefined) throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `VO credential '${name}' in ${where} cannot be opened with this instance's POOL key; every instance sharing a database must use the same poolSigningKeyFile`);
  return token;
}

/** A value written before tokens were sealed (a JWT, never `v1.`…). */
export function isSealed(value: string): boolean {
  return value.startsWith('v1.');
}
