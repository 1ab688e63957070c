import { describe, expect, it } from 'vitest';
import { redact, redactText, REDACTED } from '../../shared/redact.ts';
import { createLogger } from '../../shared/log.ts';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz';

describe('redaction', () => {
  it.each([
    ['a JWT inside text', `got ${JWT} back`, `got ${REDACTED} back`],
    ['a bearer header', 'Authorization: Bearer abcdefgh12345678', `Authorization: Bearer ${REDACTED}`],
    ['a DPoP header value', 'DPoP eyJhbGciOiJFUzI1NiJ9xx', `DPoP ${REDACTED}`],
    ['a PEM private key', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----', REDACTED],
    ['plain text', 'refresh succeeded for glidein g-1', 'refresh succeeded for glidein g-1'],
  ])('removes %s', (_what, input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it('replaces the value of every secret-named field, at any depth', () => {
    const out = redact({ refresh_token: 'opaque-value-xyz', nested: { privateKey: 'k', password: 'p' }, creds: [{ token: 'x' }], id: 'g-1', expires_at: 5 });
    expect(out).toEqual({ refresh_token: REDACTED, nested: { privateKey: REDACTED, password: REDACTED }, creds: [{ token: REDACTED }], id: 'g-1', expires_at: 5 });
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = a;
    expect(redact(a)).toEqual({ name: 'a', self: '[…]' });
  });

  it('never lets a secret reach a log line, in either format', () => {
    for (const format of ['json', 'human'] as const) {
      const lines: string[] = [];
      const log = createLogger({ format, sink: { write: (l: string) => lines.push(l) } });
      log.info(`minted ${JWT}`, { refresh_token: 'super-secret-opaque', error: new Error(`bad token ${JWT}`) });
      log.security('reuse', { dpop: 'proof' });
      const all = lines.join('');
      expect(all).not.toContain(JWT);
      expect(all).not.toContain('super-secret-opaque');
      expect(all).not.toContain('proof"');
      expect(all).toContain('minted');
    }
  });

  it('writes one JSON object per line in json format, with level and security flag', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', sink: { write: (l: string) => lines.push(l) } }).child({ component: 'test' });
    log.security('spent token reused', { glideinId: 'g-1' });
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'warn', msg: 'spent token reused', security: true, component: 'test', glideinId: 'g-1' });
  });
});
