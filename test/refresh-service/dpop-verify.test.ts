// DPoP proof verification against unauthenticated CPU exhaustion (issue 11 item 12): RSA keys
// are capped at 4096 bits with e = 65537, and the cheap claims are checked before any key is
// parsed or signature verified.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { derToJose } from '../../shared/ecdsa.ts';
import { oneDpopHeader, verifyDpopProof } from '../../refresh-service/dpop-verify.ts';

const HTU = 'https://rs.example.org/v1/refresh';
const now = 1_900_000_000;
const want = { htm: 'POST', htu: HTU, now, window: 60, skew: 10 };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function proof(jwk: Record<string, unknown>, claims: Record<string, unknown>, signer: (d: Buffer) => Buffer = () => randomBytes(512), alg = 'RS256'): string {
  const input = `${b64({ alg, typ: 'dpop+jwt', jwk })}.${b64(claims)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

const good = () => ({ htm: 'POST', htu: HTU, iat: now, jti: randomBytes(12).toString('base64url') });
/** An RSA public jwk with a modulus of `bits` bits (no private key: nobody could sign with it). */
const hugeJwk = (bits: number, e = 'AQAB') => ({ kty: 'RSA', n: Buffer.concat([Buffer.from([0xc5]), randomBytes(bits / 8 - 1)]).toString('base64url'), e });

describe('DPoP proof verification', () => {
  it.each([
    ['a 16384-bit modulus', hugeJwk(16384), 'RSA key longer than 4096 bits'],
    ['an 8192-bit modulus', hugeJwk(8192), 'RSA key longer than 4096 bits'],
    ['a huge public exponent', hugeJwk(2048, randomBytes(512).toString('base64url')), 'RSA public exponent must be 65537'],
    ['e = 3', hugeJwk(2048, 'Aw'), 'RSA public exponent must be 65537'],
  ])('refuses an RSA jwk with %s before verifying anything', async (_what, jwk, reason) => {
    expect(await verifyDpopProof(proof(jwk, good()), want)).toEqual({ ok: false, reason });
  });

  it.each([
    ['a wrong htu', { htu: 'https://elsewhere.example/v1/refresh' }, 'htu must be'],
    ['a wrong htm', { htm: 'GET' }, 'htm must be POST'],
    ['an old iat', { iat: now - 3600 }, 'proof is too old'],
    ['no jti', { jti: undefined }, 'jti must be'],
  ])('checks %s before the key: an oversized key with that claim is refused for the claim', async (_what, bad, reason) => {
    const verdict = await verifyDpopProof(proof(hugeJwk(16384), { ...good(), ...bad }), want);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.reason).toContain(reason);
  });

  it('accepts a real 4096-bit RS256 proof', async () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const jwk = k.publicKey.export({ format: 'jwk' });
    const verdict = await verifyDpopProof(proof(jwk, good(), (d) => sign('sha256', d, k.privateKey)), want);
    expect(verdict.ok).toBe(true);
  });

  it.each([
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), (d: Buffer, k: ReturnType<typeof generateKeyPairSync>) => derToJose(sign('sha256', d, k.privateKey))],
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), (d: Buffer, k: ReturnType<typeof generateKeyPairSync>) => sign('sha256', d, k.privateKey)],
    ['EdDSA', () => generateKeyPairSync('ed25519'), (d: Buffer, k: ReturnType<typeof generateKeyPairSync>) => sign(null, d, k.privateKey)],
    // RFC 9864's fully specified name, what WebCrypto-based clients (openid-client) sign with.
    ['Ed25519', () => generateKeyPairSync('ed25519'), (d: Buffer, k: ReturnType<typeof generateKeyPairSync>) => sign(null, d, k.privateKey)],
  ] as const)('gives a %s key the RFC 7638 thumbprint jose computes, on a first and a cached proof', async (alg, make, signer) => {
    const k = make();
    const jwk = k.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    const expected = await calculateJwkThumbprint(jwk as JWK, 'sha256');
    for (let i = 0; i < 2; i++) {
      const verdict = await verifyDpopProof(proof(jwk, good(), (d) => signer(d, k), alg), want);
      expect(verdict).toMatchObject({ ok: true, jkt: expected });
    }
  });

  it.each([
    ['the normalised htu', HTU, true],
    ['an upper-case host and the default port', 'https://RS.Example.ORG:443/v1/refresh', true],
    ['another port', 'https://rs.example.org:8443/v1/refresh', false],
    ['another path', 'https://rs.example.org/v1/token', false],
    // RFC 3986 section 6.2.2.2: percent-encoded unreserved characters are the characters.
    ['percent-encoded unreserved path characters', 'https://rs.example.org/%76%31/%72efresh', true],
    ['lower-case hex in a percent-encoding', 'https://rs.example.org/v1/r%65fresh', true],
    ['an encoded slash (reserved: not the same path)', 'https://rs.example.org/v1%2Frefresh', false],
  ])('compares the htu after normalisation: %s', async (_what, htu, ok) => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = k.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    const verdict = await verifyDpopProof(proof(jwk, { ...good(), htu }, (d) => derToJose(sign('sha256', d, k.privateKey)), 'ES256'), want);
    expect(verdict.ok).toBe(ok);
  });

  it.each([
    ['a string', '1900000000', 'iat must be a number (Unix seconds), got a string'],
    ['null', null, 'iat must be a number (Unix seconds), got null'],
    ['an array', [now], 'iat must be a number (Unix seconds), got an array'],
    ['absent', undefined, 'iat missing'],
  ])('says what is wrong with an iat that is %s', async (_what, iat, reason) => {
    expect(await verifyDpopProof(proof(hugeJwk(2048), { ...good(), iat }), want)).toEqual({ ok: false, reason });
  });

  it.each([
    [undefined, 'missing DPoP header'],
    [[], 'missing DPoP header'],
    [['a.b.c', 'd.e.f'], '2 DPoP headers; RFC 9449 section 4.3 allows exactly one proof per request'],
  ])('tells a missing DPoP header from several: %j', (values, reason) => {
    expect(oneDpopHeader(values)).toEqual({ ok: false, reason });
  });
});
