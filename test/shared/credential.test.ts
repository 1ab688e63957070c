import { unsignedJwt } from '../helpers/jwt.ts';
import { describe, expect, it } from 'vitest';
import { parseCredential, isUsable, secondsLeft, describeCredential, credentialToWire } from '../../shared/credential.ts';
import { decodeJwtUnverified, jwtExpiry } from '../../shared/jwt-decode.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const fakeJwt = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid: 'k1' }) => unsignedJwt(claims, header);

describe('credential model', () => {
  it('takes a JWT credential expiry from its exp claim', () => {
    const c = parseCredential({ type: 'idtoken', purpose: 'collector', token: fakeJwt({ exp: 2000, iss: 'td', sub: 's' }) });
    expect(c.expiresAt).toBe(2000);
    expect(describeCredential(c)).toEqual({ type: 'idtoken', purpose: 'collector', expiresAt: 2000, iss: 'td', sub: 's' });
  });

  it('uses the earlier of exp and an explicit expires_at', () => {
    const c = parseCredential({ type: 'scitoken', purpose: 'vo-service', token: fakeJwt({ exp: 2000 }), expires_at: 1500 });
    expect(c.expiresAt).toBe(1500);
  });

  it('lets a non-JWT credential carry an explicit expiry or none', () => {
    expect(parseCredential({ type: 'text', purpose: 'custom-thing', token: 'pw' }).expiresAt).toBeNull();
    expect(parseCredential({ type: 'key', purpose: 'request', token: 'k', expires_at: 99 }).expiresAt).toBe(99);
  });

  it('round-trips through the wire form', () => {
    const c = parseCredential({ type: 'x509_proxy', purpose: 'payload', token: 'PEM', expires_at: 10, trust_domain: 'd', parameters: { VMId: 'vm-1' } });
    expect(parseCredential(credentialToWire(c))).toEqual(c);
  });

  it.each([
    ['not an object', 'x', /expected an object/],
    ['an unknown type', { type: 'kerberos', purpose: 'p', token: 't' }, /type: expected one of/],
    ['a purpose with a slash', { type: 'text', purpose: '../x', token: 't' }, /purpose/],
    ['an empty token', { type: 'text', purpose: 'p', token: '' }, /token: expected a non-empty/],
    ['a JWT type without exp', { type: 'idtoken', purpose: 'p', token: fakeJwt({ sub: 'x' }) }, /numeric exp/],
    ['a JWT type that is not a JWT', { type: 'scitoken', purpose: 'p', token: 'abc' }, /3/],
    ['a fractional expires_at', { type: 'text', purpose: 'p', token: 't', expires_at: 1.5 }, /expires_at/],
    ['a non-string parameter', { type: 'text', purpose: 'p', token: 't', parameters: { VMId: 3 } }, /parameters\.VMId/],
  ])('rejects %s, naming the field', (_what, input, message) => {
    expect(() => parseCredential(input, 'credentials[0]')).toThrow(message);
    try {
      parseCredential(input, 'credentials[0]');
    } catch (e) {
      expect((e as { code: string }).code).toBe('GLIDEIN_ERR_TOKEN_MALFORMED');
    }
  });

  it('computes validity against a clock and a minimum lifetime', () => {
    const c = { expiresAt: 1000 };
    expect(secondsLeft(c, 900)).toBe(100);
    expect(isUsable(c, 900)).toBe(true);
    expect(isUsable(c, 900, 100)).toBe(false);
    expect(isUsable(c, 1000)).toBe(false);
    expect(isUsable({ expiresAt: null }, 1e12, 1e9)).toBe(true);
  });
});

describe('JWT decoding without trust', () => {
  it.each([
    ['two parts', 'a.b'],
    ['a non-JSON payload', `${b64({ a: 1 })}.bm90anNvbg.x`],
    ['a JSON array payload', `${b64({ a: 1 })}.${b64([1])}.x`],
    ['non-base64url characters', `${b64({ a: 1 })}.a+b.x`],
    ['an over-long token', 'a'.repeat(20000)],
  ])('rejects %s', (_what, token) => {
    expect(() => decodeJwtUnverified(token)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_MALFORMED' }));
  });

  it('reads exp, or null when absent', () => {
    expect(jwtExpiry(fakeJwt({ exp: 5 }))).toBe(5);
    expect(jwtExpiry(fakeJwt({}))).toBeNull();
    expect(() => jwtExpiry(fakeJwt({ exp: 'soon' }))).toThrow(/not a number/);
  });
});
