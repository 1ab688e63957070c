// auth_method as GlideinWMS 3.11.3 evaluates it (issue 24 section 2). The "GlideinWMS" column is
// what its lib/credentials/utils.py AuthenticationMethod(text).match(bundle) answered when run
// on the same inputs (real SciToken/IdToken/Token/X509Cert/Text credentials and parameters),
// written down here as our own table; "glidein" differs only where GlideinWMS is broken.
import { describe, expect, it } from 'vitest';
import { matchAuthMethod, parseAuthMethod } from '../../shared/auth-method.ts';
import type { Credential } from '../../shared/credential.ts';

const NOW = 1_000_000;
const cred = (type: Credential['type'], expiresAt: number | null, parameters?: Record<string, string>): Credential => ({
  type, purpose: type === 'idtoken' ? 'collector' : 'p', token: 't', expiresAt, ...(parameters ? { parameters } : {}),
});
const CREDS: Record<string, Credential> = {
  scitoken: cred('scitoken', NOW + 3600),
  'scitoken-expired': cred('scitoken', NOW - 10),
  idtoken: cred('idtoken', NOW + 3600),
  jwt: cred('jwt', NOW + 3600),
  x509: cred('x509_proxy', NOW + 3600),
  text: cred('text', null),
  key: cred('key', null),
};
const BROKEN = 'GlideinWMS is broken here (README)';

// [auth_method, credentials, parameters, GlideinWMS's chosen alternatives or null (unmet) or 'error', glidein's when it differs]
type Row = [string, string[], Record<string, string>, string[] | null | 'error', string[]?];
const TABLE: Row[] = [
  // names, aliases, case
  ['scitoken', ['scitoken'], {}, ['scitoken']],
  ['SCITOKEN', ['scitoken'], {}, ['scitoken']],
  ['IDTOKEN', ['idtoken'], {}, ['idtoken']],
  ['idtoken', ['scitoken'], {}, null],
  ['scitoken', [], {}, null],
  ['scitoken', ['scitoken-expired'], {}, null],
  ['token', ['jwt'], {}, ['token']],
  ['text', ['text'], {}, ['text']],
  ['auth_file', ['text'], {}, ['auth_file']],
  ['key_pair', ['key'], {}, ['key_pair']],
  ['vmid', [], { VMId: 'vm1' }, ['vmid']],
  ['vm_id', ['scitoken'], { VMId: 'vm1' }, ['vm_id']],
  ['vmtype', [], { VMType: 'm5' }, ['vmtype']],
  ['vm_type', [], { VMType: 'm5' }, ['vm_type']],
  ['projectid', [], { ProjectId: 'p' }, ['projectid']],
  ['scitoken;project_id', ['scitoken'], { ProjectId: 'p' }, ['scitoken', 'project_id']],
  ['glideinproxy', [], { GlideinProxy: 'x' }, ['glideinproxy']],
  ['remoteusername', [], { RemoteUsername: 'x' }, ['remoteusername']],
  // a generic JWT is not a scitoken, nor the other way round; pairs are their own kinds
  ['scitoken', ['jwt'], {}, null],
  ['token', ['scitoken'], {}, null],
  ['cert_pair', ['key'], {}, null],
  ['x509_pair', ['key'], {}, null],
  ['username_password', ['text'], {}, null],
  ['key_pair', ['text'], {}, null],
  // parameters count by name, whatever their value; a missing one is unmet
  ['vmid', [], { VMId: '' }, ['vmid']],
  ['vmid', ['scitoken'], {}, null],
  ['vmtype,vmid', [], { VMId: 'a', VMType: 'b' }, ['vmtype']],
  // groups: ';' and '+', all must be met; the first alternative as written wins
  ['scitoken;vmid', ['scitoken'], { VMId: 'v' }, ['scitoken', 'vmid']],
  ['scitoken+vmid', ['scitoken'], { VMId: 'v' }, ['scitoken', 'vmid']],
  ['scitoken+vmid', ['scitoken'], {}, null],
  ['scitoken,idtoken', ['idtoken', 'scitoken'], {}, ['scitoken']],
  ['idtoken,scitoken', ['idtoken', 'scitoken'], {}, ['idtoken']],
  ['scitoken,idtoken', ['scitoken-expired', 'idtoken'], {}, ['idtoken']],
  // malformed: GlideinWMS raises "Unknown authentication requirement"
  ['', ['scitoken'], {}, 'error'],
  [' scitoken', ['scitoken'], {}, 'error'],
  ['scitoken ; vmid', ['scitoken'], { VMId: 'v' }, 'error'],
  ['scitoken;', ['scitoken'], {}, 'error'],
  ['scitoken,,idtoken', ['scitoken'], {}, 'error'],
  ['any,scitoken', ['scitoken'], {}, 'error'],
  ['kerberos', ['scitoken'], {}, 'error'],
  // accepted names no glidein credential type is (GlideinWMS accepts them too)
  ['rsa_key', ['key'], {}, null],
  ['generator', [], {}, null],
  ['symmetric_key,scitoken', ['scitoken'], {}, ['scitoken']],
  // broken in GlideinWMS: an `any` group never matches; an X509 credential is never valid
  ['any', [], {}, null, [BROKEN, 'any']],
  ['ANY', ['scitoken'], {}, null, [BROKEN, 'any']],
  ['scitoken;any', ['scitoken'], {}, null, [BROKEN, 'scitoken', 'any']],
  ['grid_proxy', ['x509'], {}, null, [BROKEN, 'grid_proxy']],
  ['x509_cert', ['x509'], {}, null, [BROKEN, 'x509_cert']],
];

describe('auth_method evaluated as GlideinWMS 3.11 does', () => {
  it('has at least 40 cases', () => expect(TABLE.length).toBeGreaterThanOrEqual(40));

  it.each(TABLE.map((r) => [r[0], r[1].join('+') || 'none', Object.keys(r[2]).join('+') || 'none', r] as const))('%j with credentials %s and parameters %s', (_t, _c, _p, row) => {
    const [text, creds, parameters, gwms, differs] = row;
    const expected = differs ? differs.filter((x) => x !== BROKEN) : gwms;
    if (expected === 'error') {
      expect(() => parseAuthMethod(text)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_AUTH_METHOD' }));
      return;
    }
    const m = matchAuthMethod(parseAuthMethod(text), creds.map((c) => CREDS[c]!), { now: NOW, parameters });
    expect(m.ok ? m.groups.map((g) => g.method) : null).toEqual(expected);
  });

  it.each([
    [' scitoken', /spaces around the name/],
    ['any,scitoken', /"any" is only a whole group/],
    ['scitoken;', /group 2 alternative 1 is empty/],
    ['kerberos', /unknown method "kerberos"/],
    ['', /empty/],
  ])('the error for %j says why', (text, message) => {
    expect(() => parseAuthMethod(text)).toThrow(message);
  });

  it('the credential that met an alternative is returned; a parameter or any has none', () => {
    const m = matchAuthMethod(parseAuthMethod('scitoken;vmid;any'), [CREDS.idtoken!, CREDS.scitoken!], { now: NOW, parameters: { VMId: '' } });
    expect(m).toMatchObject({ ok: true, groups: [{ method: 'scitoken', credential: CREDS.scitoken }, { method: 'vmid', credential: undefined }, { method: 'any', credential: undefined }] });
  });

  it('parameters carried by a credential count as set', () => {
    expect(matchAuthMethod(parseAuthMethod('vmid'), [cred('text', null, { VMId: 'v' })], { now: NOW }).ok).toBe(true);
  });

  it('refuses a credential valid now but below the minimum lifetime, and says so', () => {
    const short = cred('scitoken', NOW + 60);
    const m = matchAuthMethod(parseAuthMethod('scitoken'), [short], { now: NOW, minLifetime: 300 });
    expect(m).toMatchObject({ ok: false, unmetGroup: 0, reason: expect.stringMatching(/minimum lifetime of 300/) });
    expect(matchAuthMethod(parseAuthMethod('scitoken'), [short], { now: NOW, minLifetime: 30 }).ok).toBe(true);
  });

  it('names the unmet group', () => {
    const m = matchAuthMethod(parseAuthMethod('idtoken;scitoken,grid_proxy'), [CREDS.idtoken!], { now: NOW });
    expect(m).toMatchObject({ ok: false, unmetGroup: 1, wanted: ['scitoken', 'grid_proxy'], reason: 'no valid credential or parameter for scitoken or grid_proxy' });
  });
});
