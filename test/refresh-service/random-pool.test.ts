// The pooled random strings behind refresh tokens and jti values: each call gets bytes no other
// call got, across refills of the pool, in the length and encoding asked for.
import { describe, expect, it } from 'vitest';
import { randomString } from '../../refresh-service/random-pool.ts';
import { REFRESH_TOKEN_PATTERN, newRefreshToken } from '../../refresh-service/refresh-token.ts';

describe('random pool', () => {
  it('never hands out the same bytes twice, across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(randomString(32, 'base64url'));
    for (let i = 0; i < 5000; i++) seen.add(randomString(16, 'hex'));
    expect(seen.size).toBe(10_000);
  });

  it('gives the asked length and encoding', () => {
    expect(randomString(16, 'hex')).toMatch(/^[0-9a-f]{32}$/);
    expect(randomString(32, 'base64url')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newRefreshToken()).toMatch(REFRESH_TOKEN_PATTERN);
  });

  it('uses every byte value (the bytes are random, not a zeroed pool)', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 200; i++) for (const b of Buffer.from(randomString(64, 'hex'), 'hex')) counts[b]!++;
    expect(counts.filter((c) => c === 0).length).toBeLessThan(5);
  });

  it.each([0, 257, 1.5])('refuses n = %s', (n) => {
    expect(() => randomString(n, 'hex')).toThrow(/n must be an integer from 1 to 256/);
  });
});
