// DPoP proofs (RFC 9449), the client side: the agent's key pair is made on the node and its
// private key never leaves it; each request carries a fresh proof signed by that key.
// node:crypto signs synchronously in-process; jose's WebCrypto path costs a thread-pool hop per
// proof and keeps ~15 MiB more resident in an idle pilot (measured), so it is not used here.
// The refresh service verifies these proofs with node:crypto too (refresh-service/dpop-verify.ts).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { signCompactEs256 } from './ecdsa.ts';

export const DPOP_ALG = 'ES256';

/** A public P-256 JWK: exactly the members RFC 7638 hashes, in its order. */
export interface PublicEcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface DpopKey {
  privateKey: KeyObject;
  publicJwk: PublicEcJwk;
  /** RFC 7638 thumbprint of the public key (base64url SHA-256). */
  thumbprint: string;
}

function fromPrivateKey(privateKey: KeyObject): DpopKey {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new Error('DPoP key: expected an EC P-256 key');
  }
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: publicJwk.crv, kty: publicJwk.kty, x: publicJwk.x, y: publicJwk.y });
  return { privateKey, publicJwk, thumbprint: createHash('sha256').update(canonical).digest('base64url') };
}

export async function generateDpopKey(): Promise<DpopKey> {
  return fromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/** Serialise the key pair as a private JWK (written 0600 by the credential store, never sent). */
export async function exportDpopKey(key: DpopKey): Promise<string> {
  return JSON.stringify(key.privateKey.export({ format: 'jwk' }));
}

export async function importDpopKey(serialised: string): Promise<DpopKey> {
  const jwk = JSON.parse(serialised) as Record<string, unknown>;
  if (jwk['kty'] !== 'EC' || jwk['crv'] !== 'P-256' || typeof jwk['d'] !== 'string') throw new Error('DPoP key: expected a P-256 private JWK');
  return fromPrivateKey(createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }));
}

export interface ProofOptions {
  htm: string;
  htu: string;
  /** Unix seconds; defaults to now. */
  iat?: number;
  jti?: string;
}

/** A DPoP proof JWT: header typ dpop+jwt with the public jwk; claims htm, htu, iat, jti. */
export async function createDpopProof(key: DpopKey, options: ProofOptions): Promise<string> {
  return signCompactEs256({ alg: DPOP_ALG, typ: 'dpop+jwt', jwk: key.publicJwk }, {
    htm: options.htm,
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    jti: options.jti ?? randomBytes(16).toString('base64url'),
  }, key.privateKey);
}

/** The `htu` of a URL per RFC 9449: without query and fragment. */
export function htuOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
