// HTCondor IDTOKENs (C-CRED, CE-CRED): the POOL signing key file, HTCondor's key derivation,
// signing and verification. Derivation as in src/condor_io/condor_auth_passwd.cpp and
// src/condor_utils/store_cred.cpp (INTEROP.md): unscramble, POOL key doubled, HKDF-SHA256
// (salt "htcondor", info "master jwt"), HS256. Used by the refresh service to mint, and by
// anything that needs to check a token against a pool key.
import { decodeJwtUnverified } from './jwt-decode.ts';
import { createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { GlideinError } from './errors.ts';
import { createFileExclusively } from './exclusive-create.ts';
import { readFileSafely } from './safe-open.ts';

/** HTCondor's scrambling mask (condor_utils/simple_scramble): XOR with DE AD BE EF repeated. */
const SCRAMBLE_MASK = [0xde, 0xad, 0xbe, 0xef] as const;
export const POOL_KEY_ID = 'POOL';
export const IDTOKEN_SCOPES_PILOT = 'condor:/READ condor:/ADVERTISE_STARTD condor:/ADVERTISE_MASTER';
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** XOR with the mask; scrambling and unscrambling are the same operation. */
export function scramble(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ SCRAMBLE_MASK[i % 4]!;
  return out;
}
export const unscramble = scramble;

/**
 * The HS256 key HTCondor derives from a signing key file's raw (scrambled) bytes.
 * `kid` is `POOL` for the pool key (whose key material is doubled), else the key file's name.
 */
export function deriveIdtokenKey(fileBytes: Uint8Array, kid: string = POOL_KEY_ID): Buffer {
  const k = unscramble(fileBytes);
  const ikm = kid === POOL_KEY_ID ? Buffer.concat([k, k]) : k;
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.from('htcondor'), Buffer.from('master jwt'), 32));
}

export interface SigningKeyFile {
  kid: string;
  /** The derived HS256 key (never the file's bytes). */
  key: Buffer;
}

/**
 * Read an HTCondor signing key file as HTCondor does: it must be a regular file owned by this
 * user (or root) with no group/other permission bits. Errors name the file (GLIDEIN_ERR_KEY_FILE).
 */
export async function readSigningKeyFile(path: string, kid: string = POOL_KEY_ID, what = 'signing key file'): Promise<SigningKeyFile> {
  // HTCondor's rules (regular file, no symlink, no group/other bits, owned by us or root) through
  // safe-open: a FIFO or device is refused without blocking (issue 26 item 1).
  const uid = process.getuid?.();
  const bytes = await readFileSafely(path, {
    code: 'GLIDEIN_ERR_KEY_FILE', what, maxBytes: MAX_KEY_FILE_BYTES, noFollow: true, privateMode: true, nonEmpty: true,
    ...(uid === undefined ? {} : { owners: [uid, 0] }),
  });
  return { kid, key: deriveIdtokenKey(bytes, kid) };
}

/** A new HTCondor key file: 64 random bytes, scrambled, mode 0600, written atomically. Refuses to overwrite. */
export async function createPoolKeyFile(path: string): Promise<void> {
  // Linked into place whole (shared/exclusive-create.ts): an existing key is never overwritten.
  if (!(await createFileExclusively(path, scramble(randomBytes(64)), { code: 'GLIDEIN_ERR_KEY_FILE', what: 'signing key file' }))) {
    throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `signing key file ${path} already exists; not overwriting it`);
  }
}

export interface IdtokenClaims {
  iss: string;
  sub: string;
  iat: number;
  exp?: number;
  /** One space-separated string of condor:/AUTHZ items (HTCondor rejects an array). */
  scope: string;
  /** 32 lowercase hex characters, as HTCondor writes. Generated when absent. */
  jti?: string;
  [extra: string]: unknown;
}

// HMAC with a secret KeyObject is ~5x cheaper per token than with the raw Buffer (measured
// 5 µs vs 28 µs); the derived key is wrapped once and reused.
const hmacKeys = new WeakMap<Buffer, KeyObject>();
function hmacKey(key: Buffer): KeyObject {
  let k = hmacKeys.get(key);
  if (!k) {
    k = createSecretKey(key);
    hmacKeys.set(key, k);
  }
  return k;
}

/** Sign an IDTOKEN: header {"alg":"HS256","kid":KID} (no typ, as HTCondor), HMAC-SHA256. */
export function signIdtoken(key: SigningKeyFile, claims: IdtokenClaims): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid })).toString('base64url');
  const body = { ...claims, jti: claims.jti ?? randomBytes(16).toString('hex') };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  const sig = createHmac('sha256', hmacKey(key.key)).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

export interface IdtokenCheck {
  trustDomain?: string;
  /** Unix seconds; defaults to now. */
  now?: number;
}

/**
 * Verify an IDTOKEN as an HTCondor server would: HS256 with the derived key, matching kid,
 * unexpired, non-empty iss (equal to the trust domain when given) and jti. Returns the claims.
 * Throws GLIDEIN_ERR_TOKEN_MALFORMED or GLIDEIN_ERR_TOKEN_INVALID.
 */
export function verifyIdtoken(token: string, key: SigningKeyFile, check: IdtokenCheck = {}): Record<string, unknown> {
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    ({ header, claims } = decodeJwtUnverified(token));
  } catch (cause) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `IDTOKEN: ${(cause as Error).message}`, { cause });
  }
  const [h, p, s] = token.trim().split('.') as [string, string, string];
  if (header['alg'] !== 'HS256') throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', `IDTOKEN: alg ${String(header['alg'])} is not HS256`);
  if (header['kid'] !== key.kid) throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', `IDTOKEN: kid ${String(header['kid'])} is not ${key.kid}`);
  const expected = createHmac('sha256', hmacKey(key.key)).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', 'IDTOKEN: bad signature');
  }
  const now = check.now ?? Math.floor(Date.now() / 1000);
  if (claims['exp'] !== undefined && (typeof claims['exp'] !== 'number' || claims['exp'] <= now)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', 'IDTOKEN: expired');
  }
  if (typeof claims['iss'] !== 'string' || claims['iss'] === '') throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', 'IDTOKEN: empty iss');
  if (check.trustDomain !== undefined && claims['iss'] !== check.trustDomain) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', `IDTOKEN: iss ${claims['iss']} is not the trust domain ${check.trustDomain}`);
  }
  if (typeof claims['jti'] !== 'string' || claims['jti'] === '') throw new GlideinError('GLIDEIN_ERR_TOKEN_INVALID', 'IDTOKEN: empty jti');
  return claims;
}
