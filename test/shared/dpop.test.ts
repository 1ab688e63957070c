// The client's DPoP proofs, checked with an independent implementation (jose).
import { describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createDpopProof, exportDpopKey, generateDpopKey, htuOf, importDpopKey } from '../../shared/dpop.ts';

describe('DPoP proofs (client side)', () => {
  it('are ES256 JWS that jose verifies with the public jwk from their own header', async () => {
    const key = await generateDpopKey();
    const proof = await createDpopProof(key, { htm: 'POST', htu: 'https://f.example/v1/refresh', iat: 1_800_000_000, jti: 'j-1' });
    const header = decodeProtectedHeader(proof);
    expect(header).toEqual({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk });
    expect(header.jwk).not.toHaveProperty('d');
    const { payload } = await jwtVerify(proof, createLocalJWKSet({ keys: [key.publicJwk] }), { currentDate: new Date(1_800_000_000_000), typ: 'dpop+jwt' });
    expect(payload).toEqual({ htm: 'POST', htu: 'https://f.example/v1/refresh', iat: 1_800_000_000, jti: 'j-1' });
  });

  it('give each proof a fresh jti', async () => {
    const key = await generateDpopKey();
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) jtis.add(JSON.parse(Buffer.from((await createDpopProof(key, { htm: 'POST', htu: 'https://x/' })).split('.')[1]!, 'base64url').toString()).jti);
    expect(jtis.size).toBe(20);
  });

  it('carry the RFC 7638 thumbprint jose computes', async () => {
    const key = await generateDpopKey();
    expect(key.thumbprint).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
  });

  it('survive export and import of the key unchanged', async () => {
    const key = await generateDpopKey();
    const again = await importDpopKey(await exportDpopKey(key));
    expect(again.thumbprint).toBe(key.thumbprint);
    const proof = await createDpopProof(again, { htm: 'POST', htu: 'https://x/' });
    await expect(jwtVerify(proof, createLocalJWKSet({ keys: [key.publicJwk] }))).resolves.toBeTruthy();
  });

  it('refuse to import anything but a private P-256 JWK', async () => {
    await expect(importDpopKey(JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }))).rejects.toThrow(/P-256 private JWK/);
    await expect(importDpopKey(JSON.stringify({ kty: 'RSA', n: 'a', e: 'AQAB', d: 'x' }))).rejects.toThrow(/P-256 private JWK/);
  });

  it('strip query and fragment from htu', () => {
    expect(htuOf('https://f.example:8443/v1/refresh?x=1#y')).toBe('https://f.example:8443/v1/refresh');
  });
});
