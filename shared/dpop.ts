// DPoP proofs (RFC 9449), the client side: the agent's key pair is made on the node and its
// private key never leaves it; each request carries a fresh proof signed by that key.
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, importJWK, type JWK, type CryptoKey } from 'jose';
import { randomBytes } from 'node:crypto';

export const DPOP_ALG = 'ES256';

export interface DpopKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** RFC 7638 thumbprint of the public key (base64url SHA-256). */
  thumbprint: string;
}

export async function generateDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(DPOP_ALG, { extractable: true });
  return fromKeys(privateKey, publicKey);
}

async function fromKeys(privateKey: CryptoKey, publicKey: CryptoKey): Promise<DpopKey> {
  const full = await exportJWK(publicKey);
  const publicJwk: JWK = { kty: full.kty!, crv: full.crv!, x: full.x!, y: full.y! };
  return { privateKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** Serialise the key pair as a private JWK (written 0600 by the credential store, never sent). */
export async function exportDpopKey(key: DpopKey): Promise<string> {
  return JSON.stringify(await exportJWK(key.privateKey));
}

export async function importDpopKey(serialised: string): Promise<DpopKey> {
  const jwk = JSON.parse(serialised) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') throw new Error('DPoP key: expected a P-256 private JWK');
  const privateKey = (await importJWK(jwk, DPOP_ALG, { extractable: true })) as CryptoKey;
  const publicKey = (await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x!, y: jwk.y! }, DPOP_ALG)) as CryptoKey;
  return fromKeys(privateKey, publicKey);
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
  return new SignJWT({ htm: options.htm, htu: options.htu })
    .setProtectedHeader({ alg: DPOP_ALG, typ: 'dpop+jwt', jwk: key.publicJwk })
    .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
    .setJti(options.jti ?? randomBytes(16).toString('base64url'))
    .sign(key.privateKey);
}

/** The `htu` of a URL per RFC 9449: without query and fragment. */
export function htuOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
