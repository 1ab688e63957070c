// S-CRED signing keys: ES256 (P-256), generated into `<state>/scitoken-keys/<kid>.jwk` (0600) on
// first start and rotatable; the newest signs, the newest few are published in the JWKS so
// tokens signed before a rotation stay verifiable until they expire.
import { signCompactEs256 } from '../shared/ecdsa.ts';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { GlideinError, errnoCode } from '../shared/errors.ts';
import { describeErrno } from '../shared/exclusive-create.ts';
import { createSecretFile, readSecretFile } from './state-dir.ts';

const PUBLISHED_KEYS = 3;

export interface ScitokenSigningKey {
  kid: string;
  createdAt: number;
  privateKey: KeyObject;
  publicJwk: JWK;
}

export interface SigningKeySet {
  /** The key that signs new tokens. */
  active: ScitokenSigningKey;
  /** Keys published at /.well-known/jwks.json (the active one first). */
  published: ScitokenSigningKey[];
}

export function keyDir(stateDir: string): string {
  return join(stateDir, 'scitoken-keys');
}

async function ensureKeyDir(stateDir: string): Promise<void> {
  try {
    await mkdir(keyDir(stateDir), { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new GlideinError('GLIDEIN_ERR_STATE', `cannot create the signing key directory ${keyDir(stateDir)} (${describeErrno(cause)})`, { cause, details: { path: keyDir(stateDir), errno: errnoCode(cause) } });
  }
}

/** A new P-256 key and its stored form (the private JWK with kid and created_at). */
export async function generateSigningKey(): Promise<{ key: ScitokenSigningKey; stored: string }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const pub: JWK = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  // The kid is the key's own RFC 7638 thumbprint: stable, unique, and reveals nothing.
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const createdAt = Date.now();
  const stored = JSON.stringify({ ...jwk, kid, created_at: createdAt });
  return { key: { kid, createdAt, privateKey, publicJwk: { ...pub, kid, alg: 'ES256', use: 'sig' } }, stored };
}

/** Generate and store a new signing key; it becomes the active one. */
export async function rotateSigningKey(stateDir: string): Promise<ScitokenSigningKey> {
  await ensureKeyDir(stateDir);
  const { key, stored } = await generateSigningKey();
  await createSecretFile(join(keyDir(stateDir), `${key.kid}.jwk`), stored + '\n', 'S-CRED signing key');
  return key;
}

/** The key set from every known key: the newest signs, the newest few are published. */
export function signingKeySet(keys: ScitokenSigningKey[]): SigningKeySet {
  keys.sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
  return { active: keys[0]!, published: keys.slice(0, PUBLISHED_KEYS) };
}

/** A key from its stored form (generateSigningKey's `stored`); `where` names it in the error. */
export function parseStoredSigningKey(text: string, where: string): ScitokenSigningKey {
  if (text.trim() === '') {
    // What an older release left when a rotation hit a full disk (issue 26 item 2).
    throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `S-CRED signing key ${where} is empty (a write that failed, e.g. on a full disk): remove it; the other keys stay in use`);
  }
  try {
    const j = JSON.parse(text) as JWK & { kid: string; created_at: number };
    const privateKey = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x: j.x!, y: j.y!, d: j.d! }, format: 'jwk' });
    const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    return { kid: j.kid, createdAt: j.created_at, privateKey, publicJwk: { kty: 'EC', crv: 'P-256', x: pub.x!, y: pub.y!, kid: j.kid, alg: 'ES256', use: 'sig' } };
  } catch (cause) {
    throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `S-CRED signing key ${where} is not a P-256 private JWK`, { cause });
  }
}

/** Whether the state dir holds a signing key already (a first start makes one). */
export async function hasStoredSigningKeys(stateDir: string): Promise<boolean> {
  try {
    return (await readdir(keyDir(stateDir))).some((n) => n.endsWith('.jwk'));
  } catch {
    return false;
  }
}

/** Load the signing keys, generating the first one when there is none. */
export async function loadSigningKeys(stateDir: string): Promise<SigningKeySet> {
  await ensureKeyDir(stateDir);
  let keys = await readKeys(stateDir);
  if (keys.length === 0) {
    await rotateSigningKey(stateDir);
    keys = await readKeys(stateDir);
  }
  return signingKeySet(keys);
}

async function readKeys(stateDir: string): Promise<ScitokenSigningKey[]> {
  const out: ScitokenSigningKey[] = [];
  for (const name of await readdir(keyDir(stateDir))) {
    if (!name.endsWith('.jwk')) continue;
    const path = join(keyDir(stateDir), name);
    // Keys are linked into place whole (createSecretFile), so there is no half-written one to wait for.
    out.push(parseStoredSigningKey(await readSecretFile(path), path));
  }
  return out;
}

/** Sign a JWT with ES256 (JWS signature in the IEEE P1363 r||s form) under this key's kid. Synchronous. */
export function signEs256(key: ScitokenSigningKey, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return signCompactEs256({ ...header, alg: 'ES256', kid: key.kid }, claims, key.privateKey);
}

/** The public key as PEM (what `scitokens-verify --cred` reads). */
export function publicKeyPem(key: ScitokenSigningKey): string {
  return createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' }).toString();
}

/** Where a running server's keys come from: a cheap change marker, and the full load. */
export interface SigningKeySource {
  version(): Promise<string>;
  load(): Promise<SigningKeySet>;
}

/** The key directory of a state dir (a rotation by another process changes its mtime). */
export function fileKeySource(stateDir: string): SigningKeySource {
  return { version: async () => String((await stat(keyDir(stateDir))).mtimeMs), load: () => loadSigningKeys(stateDir) };
}

/**
 * The key set of a running server, re-read when its source changes (a rotation by another
 * process, or another instance on a shared database, takes effect within `checkEveryMs`),
 * checked at most that often.
 */
export class SigningKeyWatcher {
  readonly #source: SigningKeySource;
  readonly #checkEveryMs: number;
  #keys: SigningKeySet;
  #version = '';
  #checkedAt = 0;
  #inFlight: Promise<SigningKeySet> | undefined;

  /** `source`: a state dir (its key files) or another source. */
  constructor(source: string | SigningKeySource, keys: SigningKeySet, checkEveryMs = 1000) {
    this.#source = typeof source === 'string' ? fileKeySource(source) : source;
    this.#keys = keys;
    this.#checkEveryMs = checkEveryMs;
    this.#checkedAt = Date.now();
  }

  get current(): SigningKeySet {
    return this.#keys;
  }

  /** The current set, after a reload when due and the source changed. Never throws: on a bad read the old set stays. */
  async fresh(): Promise<SigningKeySet> {
    if (Date.now() - this.#checkedAt < this.#checkEveryMs) return this.#keys;
    // Concurrent callers share one reload.
    this.#inFlight ??= (async () => {
      this.#checkedAt = Date.now();
      try {
        const v = await this.#source.version();
        if (v !== this.#version) {
          this.#keys = await this.#source.load();
          this.#version = v;
        }
      } catch {
        /* keep the keys we have */
      }
      return this.#keys;
    })().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }
}
