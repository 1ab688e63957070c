// Mapfile: HTCondor-CE's SCITOKENS lines unchanged, plus GROUP / ENTITLEMENT / SCOPE lines that
// match a claim of one issuer (issue 15 part 2); first match in file order wins.
import { describe, it, expect } from 'vitest';
import { parseMapfile, mapIdentity, mapClaims, mappedAccounts, splitFields, exactIdentityLine, type TokenClaims } from '../../agent/sandbox/mapfile.ts';

describe('SCITOKENS lines (HTCondor-CE)', () => {
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

  it('an empty regex (SCITOKENS // account) maps no one; the next line still maps (HTCondor 25.14 userMap, 2026-12-07)', () => {
    const r = parseMapfile(['SCITOKENS // everyone', 'SCITOKENS //i everyone', 'SCITOKENS /^https:\\/\\/iss,bob$/ bob'].join('\n'));
    expect(mapIdentity(r, 'https://iss', 'alice')).toBeNull();
    expect(mapIdentity(r, 'https://other.example', 'x')).toBeNull();
    expect(mapIdentity(r, 'https://iss', 'bob')).toBe('bob');
  });

  it.each([
    ['SCITOKENS /^x$/', 2, "expected 'METHOD principal account'"],
    ['SCITOKENS /[unclosed/ account', 1, 'does not compile in PCRE2 (missing terminating ]'],
    ['GROUP https://x acct', 2, 'found 2 fields'],
  ])('a line HTCondor would skip (%s) is skipped with a warning naming it; strictMapfile refuses the file', (line, n, why) => {
    const text = n === 2 ? `# first\n${line}\nSCITOKENS /,bob$/ bob` : `${line}\nSCITOKENS /,bob$/ bob`;
    const m = parseMapfile(text, '/etc/glidein/mapfile');
    expect(m.warnings).toEqual([expect.stringMatching(new RegExp(`^/etc/glidein/mapfile:${n}: .*${why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*; line skipped, as HTCondor skips it$`))]);
    expect(mapIdentity(m, 'https://iss', 'bob')).toBe('bob');
    expect(() => parseMapfile(text, '/etc/glidein/mapfile', { strict: true })).toThrowError(
      expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringMatching(new RegExp(`^/etc/glidein/mapfile:${n}: .*\\(strictMapfile\\)$`)) }),
    );
  });

  it.each([
    ['a back reference', 'SCITOKENS /(a)\\1/ acct', "'\\1' at offset 3"],
    ['a lookbehind', 'SCITOKENS /(?<=x)a/ acct', "'(?<=' at offset 0"],
    ['\\p', 'SCITOKENS /\\p{L}/ acct', "'\\p' at offset 0"],
    ['a repeated group that can match empty', 'SCITOKENS /x(a|)?/ acct', "'?' at offset 5 is not supported (a repeated group that can match the empty string)"],
    ['a repeat of a group whose alternatives overlap', 'SCITOKENS /,(a|ab)+c$/ acct', "'+' at offset 7 is not supported (a repeat of a group whose alternatives can start with the same byte)"],
    ['a repeat of a group holding a repeat', 'SCITOKENS /,(a+)+$/ acct', "'+' at offset 5 is not supported (a repeat of a group that holds a repeat)"],
    ['a group repeated and substituted', 'SCITOKENS /(a|b)+/ u_\\1', 'uses \\N with a regex in which a group is inside a repeated part'],
  ])('a construct glidein cannot translate exactly (%s) refuses the file, naming the line and the construct', (_what, line, text) => {
    expect(() => parseMapfile(`# head\n${line}`, 'mapfile')).toThrowError(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(`mapfile:2: `) }));
    expect(() => parseMapfile(`# head\n${line}`, 'mapfile')).toThrowError(expect.objectContaining({ message: expect.stringContaining(text) }));
  });

  it('an account that is not a local name holds the identity: no later line maps it (HTCondor stops at the first match too)', () => {
    const m = parseMapfile(['SCITOKENS /,alice$/ bad;name', 'SCITOKENS /,alice$/ "acct', 'SCITOKENS /.*/ catchall'].join('\n'));
    const got = mapClaims(m, { iss: 'https://iss', sub: 'alice', groups: [], entitlements: [], scopes: [] });
    expect(got).toMatchObject({ canonical: 'bad;name', account: null, rule: { line: 1 } });
    expect(mapIdentity(m, 'https://iss', 'bob')).toBe('catchall');
  });

  it('the account is the part before the last @, as split_canonical_name takes it', () => {
    const m = parseMapfile(['SCITOKENS /,alice$/ alice@users.htcondor.org', 'SCITOKENS /,bob$/ bob@x@y', 'SCITOKENS /,(carol)$/ \\1@x'].join('\n'));
    const account = (sub: string) => mapClaims(m, { iss: 'https://iss', sub, groups: [], entitlements: [], scopes: [] })?.account;
    expect([account('alice'), account('bob'), account('carol')]).toEqual(['alice', null, 'carol']);
    expect(mappedAccounts(m)).toEqual(['alice']);
  });

  it.each([['a\\b'], ['a/b'], ['a"b'], ['a.b'], ['x\\'], ['josé'], ['a b'], ['$^(*)'], ['a\nb'], ['[:alpha:]'], ['\\1']])(
    'exactIdentityLine (the self-test and demo mapfiles) matches %j and nothing else',
    (sub) => {
      // As the self-test writes it (UTF-8) and a mapfile is read (its bytes).
      const m = parseMapfile(Buffer.from(exactIdentityLine('https://iss.example/a.b', sub, 'acct'), 'utf8').toString('latin1'));
      expect(m.warnings).toEqual([]);
      expect(mapIdentity(m, 'https://iss.example/a.b', sub)).toBe('acct');
      for (const other of [`${sub}\n`, `${sub}x`, sub.replace(/./, 'Z'), sub.replace(/\\/g, '')]) {
        if (other !== sub) expect(mapIdentity(m, 'https://iss.example/a.b', other)).toBeNull();
      }
      expect(mapIdentity(m, 'https://iss.example/aXb', sub)).toBeNull();
    },
  );

  it('an identity with a NUL or a lone surrogate maps to no one (HTCondor would see it cut)', () => {
    const m = parseMapfile('SCITOKENS /.*/ catchall');
    expect(mapIdentity(m, 'https://iss', 'alice\0evil')).toBeNull();
    expect(mapIdentity(m, 'https://iss', 'alice\ud800')).toBeNull();
    expect(mapIdentity(m, 'https://iss', 'alice')).toBe('catchall');
  });
});

// Tokens shaped like the seeds' examples: CMS IAM (wlcg.groups, WLCG scopes) and EGI Check-In
// (one issuer for many communities, eduperson_entitlement URNs).
const CMS_IAM = 'https://cms-auth.web.cern.ch/';
const EGI = 'https://aai.egi.eu/auth/realms/egi';
const claims = (iss: string, sub: string, extra: Partial<TokenClaims>): TokenClaims => ({ iss, sub, groups: [], entitlements: [], scopes: [], ...extra });

const cmsPilot = claims(CMS_IAM, '07f75a9a-bb78-4735-a4d2-0c5b3c2c5e4c', { groups: ['/cms', '/cms/pilot'], scopes: ['compute.create', 'compute.read', 'compute.cancel', 'compute.modify'] });
const cmsUser = claims(CMS_IAM, 'b2a0e2e1-5f2c-4d0e-9a51-3f2d2b4c8a10', { groups: ['/cms'], scopes: ['storage.read:/store/user/someone'] });
const egiBiomedPilot = claims(EGI, 'e3b0c44298fc1c149afbf4c8996fb924@egi.eu', {
  entitlements: ['urn:mace:egi.eu:group:biomed:role=member#aai.egi.eu', 'urn:mace:egi.eu:group:biomed:role=pilot#aai.egi.eu'],
});
const egiBiomedMember = claims(EGI, '1c0d1c2e7a9b4e3f8a6d5b4c3a2f1e0d@egi.eu', { entitlements: ['urn:mace:egi.eu:group:biomed:role=member#aai.egi.eu'] });
const egiOtherVo = claims(EGI, '9f8e7d6c5b4a39281706f5e4d3c2b1a0@egi.eu', { entitlements: ['urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu'] });
const foreignGroup = claims('https://wlcg.cloud.cnaf.infn.it/', 'x', { groups: ['/cms/pilot'] });

describe('GROUP, ENTITLEMENT and SCOPE lines', () => {
  const text = [
    '# CMS IAM: pilots by group, then anyone with compute.create, then every CMS member',
    `SCITOKENS /^https:\\/\\/cms-auth\\.web\\.cern\\.ch\\/,07f75a9a-bb78-4735-a4d2-0c5b3c2c5e4c$/ cmsprod`,
    `GROUP ${CMS_IAM} /cms/pilot cmspilot`,
    `SCOPE ${CMS_IAM} compute.create cmscompute`,
    `GROUP ${CMS_IAM} /cms cmsuser`,
    '# EGI Check-In: one issuer, many communities',
    `ENTITLEMENT ${EGI} urn:mace:egi.eu:group:biomed:role=pilot#aai.egi.eu biomedpilot`,
    `ENTITLEMENT "${EGI}" "urn:mace:egi.eu:group:biomed:role=member#aai.egi.eu" biomed`,
  ].join('\n');
  const rules = parseMapfile(text, 'mapfile');

  it.each([
    ['a CMS pilot whose iss,sub has its own SCITOKENS line earlier in the file', cmsPilot, 'cmsprod', 2],
    ['a CMS member (group /cms only)', cmsUser, 'cmsuser', 5],
    ['an EGI biomed pilot (the pilot entitlement is matched before the member one)', egiBiomedPilot, 'biomedpilot', 7],
    ['an EGI biomed member', egiBiomedMember, 'biomed', 8],
    ['an EGI user of another VO', egiOtherVo, null, null],
    ['the same group from another issuer', foreignGroup, null, null],
  ])('%s maps to %s', (_what, c, account, line) => {
    const mapping = mapClaims(rules, c);
    expect(mapping?.account ?? null).toBe(account);
    expect(mapping?.rule.line ?? null).toBe(line);
  });

  it('order decides: without the SCITOKENS line the CMS pilot maps by group, not by scope or the wider group', () => {
    const rest = parseMapfile(text.split('\n').filter((l) => !l.startsWith('SCITOKENS')).join('\n'));
    expect(mapClaims(parseMapfile(`group ${CMS_IAM} /cms/pilot cmspilot`), cmsPilot)?.account).toBe('cmspilot');
    expect(mapClaims(rest, cmsPilot)?.account).toBe('cmspilot');
    const scopeFirst = parseMapfile([`SCOPE ${CMS_IAM} compute.create cmscompute`, `GROUP ${CMS_IAM} /cms/pilot cmspilot`].join('\n'));
    expect(mapClaims(scopeFirst, cmsPilot)?.account).toBe('cmscompute');
  });

  it('values compare exactly: no prefix, no parent group, no regex, case matters', () => {
    const r = parseMapfile([`GROUP ${CMS_IAM} /cms/pil cmspilot`, `GROUP ${CMS_IAM} /CMS cmsuser`, `GROUP ${CMS_IAM} /cms/.* any`, `SCOPE ${CMS_IAM} compute cmscompute`].join('\n'));
    expect(mapClaims(r, cmsPilot)).toBeNull();
    expect(mapClaims(r, claims(CMS_IAM.slice(0, -1), 's', { groups: ['/cms/pil'] }))).toBeNull();
  });

  it('lists every account it can map to, once, in file order', () => {
    expect(mappedAccounts(rules)).toEqual(['cmsprod', 'cmspilot', 'cmscompute', 'cmsuser', 'biomedpilot', 'biomed']);
  });

  it.each([
    ['a quoted issuer with a blank and an escaped quote', 'GROUP "https://x.example/a b\\"c" /g acct', { issuer: 'https://x.example/a b"c', value: '/g' }],
    ['an escaped backslash', 'ENTITLEMENT https://x "urn:a\\\\b" acct', { issuer: 'https://x', value: 'urn:a\\b' }],
    ['tabs between fields', 'SCOPE\thttps://x\tcompute.create\tacct', { issuer: 'https://x', value: 'compute.create' }],
    ['a # inside a value (not a comment)', 'ENTITLEMENT https://x urn:g:biomed#aai.egi.eu acct', { issuer: 'https://x', value: 'urn:g:biomed#aai.egi.eu' }],
  ])('syntax: %s', (_what, line, match) => {
    expect(parseMapfile(line).rules[0]!.match).toMatchObject(match);
  });

  it.each([
    ['too many fields', 'GROUP https://x /g acct extra', 'found 4 fields'],
    ['an unterminated quote', 'GROUP "https://x /g acct', 'unterminated quoted field'],
    ['an unknown escape', 'GROUP "https:\\/x" /g acct', "unknown escape '\\/'"],
    ['a quote inside a bare field', 'GROUP https://x a"b acct', 'inside an unquoted field'],
    ['text glued to a closing quote', 'GROUP "https://x"y /g acct', 'must end at a blank'],
    ['an empty quoted field', 'ENTITLEMENT https://x "" acct', 'empty quoted field'],
  ])('a malformed claim line (%s) is skipped with a warning naming the line and the problem', (_what, line, text) => {
    const m = parseMapfile(`# head\n${line}`, '/etc/glidein/mapfile');
    expect(m.rules).toEqual([]);
    expect(m.warnings).toEqual([expect.stringMatching(new RegExp(`^/etc/glidein/mapfile:2: .*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))]);
  });

  it('splits fields the way the README documents', () => {
    expect(splitFields('a  "b c"\t"d\\"e\\\\"')).toEqual(['a', 'b c', 'd"e\\']);
  });
});
