// An issuer's keys (the policy's `issuers.<url>.jwksFile`): read through safe-open, and checked
// as a whole when loaded, so a garbage file is refused naming it (exit 2 up front, issue 26
// item 4) instead of failing every job's verification later.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { GlideinError } from '../../shared/errors.ts';
import { readFileSafely } from '../../shared/safe-open.ts';

const MAX_JWKS_BYTES = 1024 * 1024;

function bad(path: string, what: string, cause?: unknown): GlideinError {
  return new GlideinError('GLIDEIN_ERR_POLICY', `jwksFile ${path} ${what}`, cause === undefined ? {} : { cause });
}

/** The key set of `path`: a JSON object with a non-empty `keys` array of public JWKs. */
export async function readJwksFile(path: string): Promise<JSONWebKeySet> {
  const text = (await readFileSafely(path, { code: 'GLIDEIN_ERR_POLICY', what: 'jwksFile', maxBytes: MAX_JWKS_BYTES })).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw bad(path, 'is not valid JSON; expected a JWK set ({"keys": [...]})', cause);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (value === null || typeof value !== 'object' || !Array.isArray(keys) || keys.length === 0) {
    throw bad(path, 'is not a JWK set; expected a JSON object with a non-empty "keys" array');
  }
  keys.forEach((k: unknown, i) => {
    if (k === null || typeof k !== 'object' || Array.isArray(k)) throw bad(path, `keys[${i}] is not a JSON object`);
    if ('d' in k) throw bad(path, `keys[${i}] is a private key; an issuer's jwksFile holds public keys only`);
    try {
      createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw bad(path, `keys[${i}] is not a usable public key (${(cause as Error).message})`, cause);
    }
  });
  return value as JSONWebKeySet;
}

/** A verifier's key lookup for the issuer whose keys are in `path`. */
export async function loadIssuerKeys(path: string): Promise<ReturnType<typeof createLocalJWKSet>> {
  return createLocalJWKSet(await readJwksFile(path));
}
