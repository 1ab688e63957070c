// ES256 in JWS form through DER: the conversion must agree with Node's own P1363 encoding both ways.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { derToJose, joseToDer, signEs256, verifyEs256 } from '../../shared/ecdsa.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('ES256 signatures in JWS form', () => {
  it('convert DER to r||s exactly as Node does, over many signatures (short r and s included)', () => {
    // A short r or s (leading zero byte) comes about once in 128 signatures: go on until a few were seen.
    let short = 0;
    for (let i = 0; i < 400 || (short < 3 && i < 20_000); i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign('sha256', data, privateKey);
      if (der.length < 70) short++;
      const raw = derToJose(der);
      expect(raw).toHaveLength(64);
      // Node's own P1363 encoding of the same signature verifies, and so does ours.
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
      expect(joseToDer(raw)).toEqual(der);
    }
    expect(short).toBeGreaterThanOrEqual(3);
  });

  it('verify what Node signs in P1363 form, and refuse a wrong key, a tampered message or signature', () => {
    const data = Buffer.from('header.payload');
    const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyEs256(data, publicKey, raw)).toBe(true);
    expect(verifyEs256(data, other.publicKey, raw)).toBe(false);
    expect(verifyEs256(Buffer.from('header.payloaD'), publicKey, raw)).toBe(false);
    const flipped = Buffer.from(raw);
    flipped[40]! ^= 1;
    expect(verifyEs256(data, publicKey, flipped)).toBe(false);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['63 bytes', Buffer.alloc(63, 1)],
    ['65 bytes', Buffer.alloc(65, 1)],
    ['r and s zero', Buffer.alloc(64)],
  ])('refuse a malformed signature (%s) without throwing', (_what, sig) => {
    expect(verifyEs256(Buffer.from('x'), publicKey, sig)).toBe(false);
  });

  it('produce signatures Node verifies in P1363 form', () => {
    const data = Buffer.from('abc');
    expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signEs256(data, privateKey))).toBe(true);
  });

  it('reject DER that is not a signature', () => {
    expect(() => derToJose(Buffer.from([0x31, 0]))).toThrow(/DER sequence/);
    expect(() => derToJose(Buffer.from([0x30, 5, 2, 1, 1]))).toThrow(/length/);
  });
});
