// Policy and mapfile parsing: bad fields are GLIDEIN_ERR_POLICY naming the field or line.
import { describe, it, expect } from 'vitest';
import { parsePolicy, expandHelper } from '../../agent/sandbox/policy.ts';
import { parseMapfile, mapIdentity } from '../../agent/sandbox/mapfile.ts';

const base = { identity: 'setuid', mapfile: '/etc/glidein/mapfile', issuers: { 'https://iss': { jwksFile: '/etc/glidein/jwks.json' } } };

describe('policy', () => {
  it.each([
    ['an unknown mode', { ...base, identity: 'root' }, 'identity'],
    ['setuid without a mapfile', { identity: 'setuid', issuers: base.issuers }, 'mapfile'],
    ['setuid without issuers', { identity: 'setuid', mapfile: '/m' }, 'issuers'],
    ['a helper without {user}', { ...base, identity: 'helper', helper: ['sudo', '-n'] }, 'helper'],
    ['a relative jwksFile', { ...base, issuers: { x: { jwksFile: 'keys.json' } } }, 'issuers.x.jwksFile'],
    ['a negative grace', { ...base, killGraceSeconds: -1 }, 'killGraceSeconds'],
    ['an unknown field', { ...base, identitty: 'none' }, 'identitty'],
  ])('%s is rejected naming the field', (_what, value, field) => {
    expect(() => parsePolicy(value, 'policy.json')).toThrowError(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(field) }));
  });

  it('defaults follow the contract and the helper template is expanded per account', () => {
    const p = parsePolicy({ ...base, identity: 'helper' });
    expect(p).toMatchObject({ credentialGraceSeconds: 300, killGraceSeconds: 30, helper: ['sudo', '-n', '-u', '{user}', '--'] });
    expect(expandHelper(p, { name: 'cms001', uid: 5001 })).toEqual(['sudo', '-n', '-u', 'cms001', '--']);
    expect(parsePolicy({})).toMatchObject({ identity: 'none' });
  });
});

describe('mapfile', () => {
  const rules = parseMapfile(
    [
      '# comment',
      'GSI "^/DC=org/CN=x$" ignored',
      'SCITOKENS /^https:\\/\\/cms-auth\\.web\\.cern\\.ch\\/,07f75a9a-bb78-4735$/ cmspilot',
      'SCITOKENS /^https:\\/\\/cms-auth\\.web\\.cern\\.ch\\/,.*$/ cmsuser',
      'SCITOKENS /^https:\\/\\/other\\.example,alice$/i alice',
    ].join('\n'),
  );

  it.each([
    ['https://cms-auth.web.cern.ch/', '07f75a9a-bb78-4735', 'cmspilot'],
    ['https://cms-auth.web.cern.ch/', 'someone-else', 'cmsuser'],
    ['https://OTHER.example', 'ALICE', 'alice'],
    ['https://unknown.example', 'alice', null],
  ])('%s,%s maps to %s (first match wins)', (iss, sub, account) => {
    expect(mapIdentity(rules, iss, sub)).toBe(account);
  });

  it.each([
    ['SCITOKENS no-slashes account', 2],
    ['SCITOKENS /[unclosed/ account', 1],
    ['SCITOKENS /^x$/ bad;name', 1],
  ])('a malformed line (%s) is a policy error naming the line', (line, n) => {
    const text = n === 2 ? `# first\n${line}` : line;
    expect(() => parseMapfile(text, 'mapfile')).toThrowError(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(`mapfile:${n}`) }));
  });
});
