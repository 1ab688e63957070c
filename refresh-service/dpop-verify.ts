// DPoP proof verification (RFC 9449 section 4.3), the server side. Only asymmetric algorithms:
// `none` and HS* are refused by name before anything else is looked at (the classic "alg
// confusion" attacks), and the embedded `jwk` must be a public key (RSA: 2048 to 4096 bits,
// e = 65537). The cheap claims (typ, htm, htu, iat, jti) are checked before any key is parsed
// or signature verified. Signatures are checked with node:crypto; the thumbprint is RFC 7638,
// computed synchronously (jose's goes through WebCrypto's async digest: ~0.1 ms and a promise
// job per new key). Nothing here touches state: the jti replay check is done by the store,
// atomically with the token rotation.
import { decodeJwtUnverified } from '../shared/jwt-decode.ts';
import { verifyEs256 } from '../shared/ecdsa.ts';
import { createHash, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Accepted proof algorithms, as advertised (metadata, WWW-Authenticate). Ed25519 is RFC 9864's
 * fully specified name (what openid-client and WebCrypto-based clients sign with); EdDSA is the
 * older, deprecated name of the same signatures with an Ed25519 key.
 */
export const DPOP_ALGORITHMS = ['ES256', 'RS256', 'Ed25519', 'EdDSA'] as const;
const EDWARDS = new Set(['Ed25519', 'EdDSA']);
const MAX_PROOF_LENGTH = 8192;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const KEY_CACHE_SIZE = 10_000;
const keyCache = new Map<string, { key: KeyObject; jkt: string }>();

export interface DpopExpectation {
  htm: string;
  /** The expected `htu` (publicUrl + path), compared after URL normalisation. */
  htu: string;
  now: number;
  /** Seconds a proof stays acceptable after its iat. */
  window: number;
  /** Seconds a proof's iat may lie in the future. */
  skew: number;
}

export type DpopVerdict =
  | { ok: true; jkt: string; jti: string; iat: number }
  | { ok: false; reason: string };

function no(reason: string): DpopVerdict {
  return { ok: false, reason };
}

/**
 * A path's percent-encodings normalised (RFC 3986 sections 6.2.2.1 and 6.2.2.2): those of
 * unreserved characters decoded, the others written with upper-case hex digits.
 */
function normalisePercentEncoding(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /^[A-Za-z0-9._~-]$/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/**
 * `scheme://host[:port]/path` normalised for comparison (RFC 9449 section 4.3): URL's syntax
 * normalisation (lower-case scheme and host, default port dropped, dot segments removed), then
 * the path's percent-encodings (`/v1/%72efresh` is `/v1/refresh`); query and fragment dropped.
 */
export function normaliseHtu(value: string): string | undefined {
  try {
    const u = new URL(value);
    return `${u.protocol}//${u.host}${normalisePercentEncoding(u.pathname)}`;
  } catch {
    return undefined;
  }
}

/** The service's own htu values (a handful of endpoints), normalised once each. */
const expectedHtus = new Map<string, string | undefined>();
function normalisedExpected(htu: string): string | undefined {
  if (!expectedHtus.has(htu)) {
    if (expectedHtus.size >= 64) expectedHtus.clear();
    expectedHtus.set(htu, normaliseHtu(htu));
  }
  return expectedHtus.get(htu);
}

/** The members RFC 7638 section 3.2 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };

/** RFC 7638 SHA-256 thumbprint (base64url) of a public jwk, or undefined for a member missing. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const members = THUMBPRINT_MEMBERS[String(jwk['kty'])];
  if (members === undefined) return undefined;
  const required: Record<string, string> = {};
  for (const m of members) {
    const v = jwk[m];
    if (typeof v !== 'string' || v === '') return undefined;
    required[m] = v;
  }
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

/** RSA keys are capped (issue 11 item 12): a 16384-bit modulus costs ~70 ES256 verifies. */
const RSA_MAX_BITS = 4096;
/** base64url characters of a 4096-bit modulus (512 bytes). */
const RSA_MAX_N_CHARS = Math.ceil((RSA_MAX_BITS / 8) * 4 / 3);

function publicKeyFor(alg: string, jwk: Record<string, unknown>): KeyObject | string {
  for (const m of PRIVATE_MEMBERS) if (m in jwk) return `jwk header holds private member '${m}'`;
  if (alg === 'ES256' && (jwk['kty'] !== 'EC' || jwk['crv'] !== 'P-256')) return 'ES256 needs an EC P-256 jwk';
  if (alg === 'RS256' && jwk['kty'] !== 'RSA') return 'RS256 needs an RSA jwk';
  if (EDWARDS.has(alg) && (jwk['kty'] !== 'OKP' || jwk['crv'] !== 'Ed25519')) return `${alg} needs an OKP Ed25519 jwk`;
  // Checked on the text, before the key is parsed at all.
  if (alg === 'RS256' && (typeof jwk['n'] !== 'string' || jwk['n'].length > RSA_MAX_N_CHARS + 1)) return `RSA key longer than ${RSA_MAX_BITS} bits`;
  if (alg === 'RS256' && jwk['e'] !== 'AQAB') return 'RSA public exponent must be 65537';
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return 'jwk header is not a valid public key';
  }
  if (key.type !== 'public') return 'jwk header is not a public key';
  if (alg === 'RS256') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) return 'RSA key shorter than 2048 bits';
    if (bits > RSA_MAX_BITS) return `RSA key longer than ${RSA_MAX_BITS} bits`;
  }
  return key;
}

/** What a JSON value is, for messages ("a string", "an array", "null", "Infinity"). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return String(v);
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The claims a proof must carry, checked before any key is parsed or signature verified. */
function claimsProblem(claims: Record<string, unknown>, want: DpopExpectation): string | undefined {
  if (claims['htm'] !== want.htm) return `htm must be ${want.htm}`;
  // A proof whose htu is already the normalised expected one (what clients send) needs no
  // parsing: normalisation is idempotent.
  const expected = normalisedExpected(want.htu);
  const given = claims['htu'];
  const htu = given === expected ? given : typeof given === 'string' ? normaliseHtu(given) : undefined;
  if (htu === undefined || htu !== expected) return `htu must be ${want.htu}`;
  const iat = claims['iat'];
  if (iat === undefined) return 'iat missing';
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return `iat must be a number (Unix seconds), got ${kindOf(iat)}`;
  if (iat > want.now + want.skew) return 'proof iat is in the future';
  if (iat < want.now - want.window) return 'proof is too old';
  const jti = claims['jti'];
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) return 'jti must be a string of 8 to 256 characters';
  return undefined;
}

/** The request's DPoP header values (RFC 9449 section 4.3: exactly one proof), or why not. */
export function oneDpopHeader(values: readonly string[] | undefined): string | DpopVerdict {
  if (values === undefined || values.length === 0) return no('missing DPoP header');
  if (values.length > 1) return no(`${values.length} DPoP headers; RFC 9449 section 4.3 allows exactly one proof per request`);
  return values[0]!;
}

export async function verifyDpopProof(proof: string | undefined, want: DpopExpectation): Promise<DpopVerdict> {
  if (typeof proof !== 'string' || proof.length === 0) return no(proof === '' ? 'DPoP header is empty' : 'missing DPoP header');
  if (proof.length > MAX_PROOF_LENGTH) return no('DPoP proof too long');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    ({ header, claims } = decodeJwtUnverified(proof));
  } catch (e) {
    return no(`DPoP proof is not a compact JWS (${(e as Error).message})`);
  }
  const [h, p, s] = proof.split('.') as [string, string, string];
  const alg = header['alg'];
  if (typeof alg !== 'string') return no('DPoP proof has no alg');
  if (alg.toLowerCase() === 'none' || /^HS/i.test(alg)) return no(`alg ${alg} refused: DPoP proofs must be signed with an asymmetric key`);
  if (!(DPOP_ALGORITHMS as readonly string[]).includes(alg)) return no(`alg ${alg} is not accepted; expected ${DPOP_ALGORITHMS.join(', ')}`);
  if (header['typ'] !== 'dpop+jwt') return no('typ must be dpop+jwt');
  if (Array.isArray(header['crit'])) return no('crit header is not supported');
  const jwk = header['jwk'];
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return no('jwk header missing');
  // Cheap claims first: a proof for another endpoint, too old or without a jti costs no crypto.
  const problem = claimsProblem(claims, want);
  if (problem !== undefined) return no(problem);
  // A pilot signs every proof with the same key (and the same header): cache the imported key
  // and its thumbprint by the exact protected-header text, which holds alg and jwk (a different
  // spelling is only a cache miss).
  let known = keyCache.get(h);
  if (!known) {
    const key = publicKeyFor(alg, jwk as Record<string, unknown>);
    if (typeof key === 'string') return no(key);
    const jkt = jwkThumbprint(jwk as Record<string, unknown>);
    if (jkt === undefined) return no('jwk header is not a valid public key');
    known = { key, jkt };
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
    keyCache.set(h, known);
  }
  const { key, jkt } = known;
  const signature = Buffer.from(s, 'base64url');
  const data = Buffer.from(`${h}.${p}`);
  let good = false;
  try {
    good = alg === 'ES256' ? verifyEs256(data, key, signature) : verify(EDWARDS.has(alg) ? null : 'sha256', data, key, signature);
  } catch {
    good = false;
  }
  if (!good) return no('bad DPoP proof signature');
  return { ok: true, jkt, jti: claims['jti'] as string, iat: claims['iat'] as number };
}
