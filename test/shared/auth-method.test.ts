import { describe, expect, it } from 'vitest';
import { matchAuthMethod, parseAuthMethod } from '../../shared/auth-method.ts';
import type { Credential } from '../../shared/credential.ts';

const NOW = 1_000_000;
const cred = (type: Credential['type'], expiresAt: number | null, parameters?: Record<string, string>): Credential => ({
  type, purpose: 'p', token: 't', expiresAt, ...(parameters ? { parameters } : {}),
});
const scitoken = cred('scitoken', NOW + 3600);
const expiredToken = cred('scitoken', NOW - 1);
const shortToken = cred('scitoken', NOW + 60);
const proxy = cred('x509_proxy', NOW + 3600);
const vm = cred('text', null, { VMId: 'vm-7' });
const idtoken = cred('idtoken', NOW + 600);

describe('auth_method parsing', () => {
  it.each([
    ['scitoken', [['scitoken']]],
    ['scitoken,grid_proxy;vmid', [['scitoken', 'grid_proxy'], ['vmid']]],
    [' IDTOKEN ; any ', [['idtoken'], []]],
    ['any', [[]]],
    ['grid_proxy,any', [[]]],
  ])('parses %j', (text, expected) => {
    expect(parseAuthMethod(text)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['scitoken,,grid_proxy', /alternative 2 is empty/],
    ['scitoken;', /group 2 alternative 1 is empty/],
    ['kerberos', /unknown method "kerberos"/],
    ['scitoken;vm id', /unknown method "vm id"/],
  ])('rejects %j', (text, message) => {
    expect(() => parseAuthMethod(text)).toThrow(message);
    expect(() => parseAuthMethod(text)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_AUTH_METHOD' }));
  });
});

describe('auth_method matching', () => {
  it.each([
    ['a scitoken for scitoken,grid_proxy', 'scitoken,grid_proxy', [proxy, scitoken], true, ['scitoken']],
    ['the first alternative wins even if listed later', 'grid_proxy,scitoken', [scitoken, proxy], true, ['grid_proxy']],
    ['both groups met', 'scitoken,grid_proxy;vmid', [proxy, vm], true, ['grid_proxy', 'vmid']],
    ['second group unmet', 'scitoken;vmid', [scitoken], false, []],
    ['any with no credentials', 'any', [], true, ['any']],
    ['an expired credential does not count', 'scitoken', [expiredToken], false, []],
    ['an expired one is skipped for a valid one', 'scitoken', [expiredToken, scitoken], true, ['scitoken']],
    ['idtoken alone', 'idtoken', [idtoken], true, ['idtoken']],
  ])('%s', (_what, text, creds, ok, methods) => {
    const m = matchAuthMethod(parseAuthMethod(text), creds, { now: NOW });
    expect(m.ok).toBe(ok);
    if (m.ok) expect(m.groups.map((g) => g.method)).toEqual(methods);
  });

  it('refuses a credential valid now but below the minimum lifetime, and says so', () => {
    const m = matchAuthMethod(parseAuthMethod('scitoken'), [shortToken], { now: NOW, minLifetime: 300 });
    expect(m.ok).toBe(false);
    if (!m.ok) {
      expect(m.unmetGroup).toBe(0);
      expect(m.reason).toMatch(/minimum lifetime of 300/);
    }
    expect(matchAuthMethod(parseAuthMethod('scitoken'), [shortToken], { now: NOW, minLifetime: 30 }).ok).toBe(true);
  });

  it('names the unmet group', () => {
    const m = matchAuthMethod(parseAuthMethod('idtoken;scitoken,grid_proxy'), [idtoken], { now: NOW });
    expect(m).toMatchObject({ ok: false, unmetGroup: 1, wanted: ['scitoken', 'grid_proxy'], reason: 'no valid credential for scitoken or grid_proxy' });
  });
});
