// Secrets the shared database must hold but its readers must not (S-CRED signing keys, pushed VO
// tokens): sealed with AES-256-GCM under a key derived from the POOL key, which every instance
// holds (it mints C-CREDs with it) and the database never sees. The associated data names what
// a value is (e.g. the key's kid), so a sealed value cannot be moved to another row.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** HKDF-SHA256 of the POOL key's derived HS256 key. */
export function sealingKey(poolKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', poolKey, Buffer.from('glidein'), Buffer.from('S-CRED signing key seal v1'), 32));
}

/** `v1.` + base64url(iv | tag | ciphertext). */
export function seal(key: Buffer, aad: string, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return `${VERSION}.${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')}`;
}

/** The plain text, or undefined when it is not sealed under this key for this `aad`. */
export function unseal(key: Buffer, aad: string, sealed: string): string | undefined {
  const [version, data] = sealed.split('.');
  const raw = Buffer.from(data ?? '', 'base64url');
  if (version !== VERSION || raw.length < 29) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
