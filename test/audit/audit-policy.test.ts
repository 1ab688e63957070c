// The site policy's `audit` key (issue 25): defaults per identity mode, and every bad value
// refused naming the field.
import { describe, it, expect } from 'vitest';
import { parsePolicy } from '../../agent/sandbox/policy.ts';

const switching = { identity: 'setuid', mapfile: '/etc/glidein/mapfile', issuers: { 'https://i.example': { jwksFile: '/etc/glidein/jwks.json' } }, audience: 'https://site.example' };

describe('the audit policy', () => {
  it.each([
    ['setuid, no audit key: syslog on /dev/log', switching, { syslog: '/dev/log', file: null, required: false }],
    ['helper, no audit key: syslog on', { ...switching, identity: 'helper' }, { syslog: '/dev/log', file: null, required: false }],
    ['none, no audit key: nothing', {}, { syslog: null, file: null, required: false }],
    ['a file and syslog off', { ...switching, audit: { syslog: false, file: '/var/log/glidein/audit.log' } }, { syslog: null, file: '/var/log/glidein/audit.log', required: false }],
    ['a file only: syslog stays on with setuid', { ...switching, audit: { file: '/var/log/glidein/audit.log' } }, { syslog: '/dev/log', file: '/var/log/glidein/audit.log', required: false }],
    ['a socket path', { audit: { syslog: '/run/systemd/journal/dev-log', required: true } }, { syslog: '/run/systemd/journal/dev-log', file: null, required: true }],
  ])('%s', (_what, raw, audit) => {
    expect(parsePolicy(raw).audit).toEqual(audit);
  });

  it.each([
    [{ audit: 'yes' }, 'audit'],
    [{ audit: { syslog: 'dev/log' } }, 'audit.syslog'],
    [{ audit: { file: 'audit.log' } }, 'audit.file'],
    [{ audit: { file: '/var/log/glidein/' } }, 'audit.file'],
    [{ audit: { required: 'true' } }, 'audit.required'],
    [{ audit: { required: true } }, 'audit.required'],
    [{ audit: { facility: 'local0' } }, 'audit.facility'],
  ])('%j is refused naming %s', (raw, field) => {
    expect(() => parsePolicy(raw, 'site.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(`site.json: field '${field}'`) }));
  });
});
