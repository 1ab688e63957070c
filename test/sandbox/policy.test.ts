// Policy parsing: bad fields are GLIDEIN_ERR_POLICY naming the field; the spool's rule on the pilot's own uid.
import { describe, it, expect } from 'vitest';
import { parsePolicy, expandHelper, checkSpoolPolicy } from '../../agent/sandbox/policy.ts';

const base = { identity: 'setuid', mapfile: '/etc/glidein/mapfile', issuers: { 'https://iss': { jwksFile: '/etc/glidein/jwks.json' } }, audience: 'https://site.example' };
const noAudience = { identity: base.identity, mapfile: base.mapfile, issuers: base.issuers };

describe('policy', () => {
  it.each([
    ['an unknown mode', { ...base, identity: 'root' }, 'identity'],
    ['setuid without a mapfile', { identity: 'setuid', issuers: base.issuers }, 'mapfile'],
    ['setuid without issuers', { identity: 'setuid', mapfile: '/m' }, 'issuers'],
    ['a helper without {user}', { ...base, identity: 'helper', helper: ['sudo', '-n'] }, 'helper'],
    ['a relative jwksFile', { ...base, issuers: { x: { jwksFile: 'keys.json' } } }, 'issuers.x.jwksFile'],
    ['a negative grace', { ...base, killGraceSeconds: -1 }, 'killGraceSeconds'],
    ['an unknown field', { ...base, identitty: 'none' }, 'identitty'],
    ['setuid without an audience', noAudience, 'audience'],
    ['helper without an audience', { ...noAudience, identity: 'helper' }, 'audience'],
    ['an empty audience list', { ...base, audience: [] }, 'audience'],
    ['an audience list with a number', { ...base, audience: ['https://a', 7] }, 'audience'],
    ['an empty requiredScope', { ...base, requiredScope: ' ' }, 'requiredScope'],
    ['a requiredScope list', { ...base, requiredScope: ['compute.create'] }, 'requiredScope'],
    ['a non-boolean allowPilotIdentity', { identity: 'none', allowPilotIdentity: 'yes' }, 'allowPilotIdentity'],
  ])('%s is rejected naming the field', (_what, value, field) => {
    expect(() => parsePolicy(value, 'policy.json')).toThrowError(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(field) }));
  });

  it('defaults follow the contract and the helper template is expanded per account', () => {
    const p = parsePolicy({ ...base, identity: 'helper' });
    expect(p).toMatchObject({ credentialGraceSeconds: 300, killGraceSeconds: 20, helper: ['sudo', '-n', '-u', '{user}', '--'] });
    expect(expandHelper(p, { name: 'cms001', uid: 5001 })).toEqual(['sudo', '-n', '-u', 'cms001', '--']);
    expect(parsePolicy({})).toMatchObject({ identity: 'none' });
  });

  it('audience is a string or a list; requiredScope is split into items; none needs neither', () => {
    expect(parsePolicy(base)).toMatchObject({ audience: ['https://site.example'], requiredScope: [], allowPilotIdentity: false });
    expect(parsePolicy({ ...base, audience: ['a', 'b'], requiredScope: 'compute.create  compute.read' })).toMatchObject({ audience: ['a', 'b'], requiredScope: ['compute.create', 'compute.read'] });
    expect(parsePolicy({ identity: 'none' })).toMatchObject({ audience: null, requiredScope: [] });
  });

  it('the audience error says what the key needs (exit 2 as a policy error)', () => {
    expect(() => parsePolicy(noAudience, '/etc/glidein/policy.json')).toThrowError(
      expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', exitCode: 2, message: "/etc/glidein/policy.json: field 'audience' is required when identity is 'setuid': the audience (string or list) identity tokens must be issued for" }),
    );
  });
});

describe('spool policy', () => {
  it('refuses identity none (the pilot\'s own uid) unless allowPilotIdentity is true, naming both keys', () => {
    expect(() => checkSpoolPolicy(parsePolicy({ identity: 'none' }, 'p.json'))).toThrowError(
      expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringMatching(/^p\.json: field 'identity' is 'none'.*allowPilotIdentity/) }),
    );
    expect(checkSpoolPolicy(parsePolicy({ identity: 'none', allowPilotIdentity: true }))).toMatch(/pilot's own uid/);
  });

  it('needs no allowance for setuid and helper', () => {
    expect(checkSpoolPolicy(parsePolicy(base))).toBeNull();
    expect(checkSpoolPolicy(parsePolicy({ ...base, identity: 'helper' }))).toBeNull();
  });
});
