// Finding HTCondor (issue 14, item 1): --condor DIR, CONDOR_LOCATION, PATH, the CVMFS tarball;
// the version checked; a missing or too old HTCondor is a clear exit 2.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverCondor, parseCondorVersion, versionAtLeast, MIN_CONDOR_VERSION } from '../../agent/condor/discover.ts';
import { isGlideinError } from '../../shared/errors.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'condor');
let dir: string;

/** A release dir with the stand-in master and a condor_version printing `version`. */
function release(name: string, version: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'sbin'), { recursive: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(join(FIXTURE, 'sbin', 'condor_master'), join(root, 'sbin', 'condor_master'));
  writeFileSync(join(root, 'bin', 'condor_version'), `#!/bin/sh\necho '$CondorVersion: ${version} 2026-01-01 BuildID: test $'\n`, { mode: 0o755 });
  return root;
}

async function configError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isGlideinError(e) && e.code === 'GLIDEIN_ERR_CONFIG' && e.exitCode === 2).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected GLIDEIN_ERR_CONFIG');
}

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'glcondor-discover-')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HTCondor discovery', () => {
  it('takes --condor DIR first and reads its version', async () => {
    const found = await discoverCondor({ dir: FIXTURE, env: { PATH: '/usr/bin:/bin', CONDOR_LOCATION: release('other', '25.0.0') } });
    expect(found).toMatchObject({ source: 'flag', version: '25.14.0', master: join(FIXTURE, 'sbin', 'condor_master'), releaseDir: FIXTURE });
  });

  it('then CONDOR_LOCATION, then PATH, then the CVMFS tarball', async () => {
    const loc = release('loc', '24.0.3');
    const onPath = release('path', '25.3.1');
    const cvmfs = release('cvmfs', '25.14.1');
    const env = { PATH: `/usr/bin:/bin:${join(onPath, 'bin')}:${join(onPath, 'sbin')}` };
    expect(await discoverCondor({ env: { ...env, CONDOR_LOCATION: loc }, cvmfsDirs: [cvmfs] })).toMatchObject({ source: 'CONDOR_LOCATION', version: '24.0.3' });
    expect(await discoverCondor({ env, cvmfsDirs: [cvmfs] })).toMatchObject({ source: 'PATH', version: '25.3.1', releaseDir: onPath });
    expect(await discoverCondor({ env: { PATH: '/usr/bin:/bin' }, cvmfsDirs: [cvmfs] })).toMatchObject({ source: 'cvmfs', version: '25.14.1' });
  });

  it('names every place it looked when there is no HTCondor', async () => {
    const msg = await configError(discoverCondor({ env: { PATH: '/nonexistent', CONDOR_LOCATION: join(dir, 'none') }, cvmfsDirs: ['/cvmfs/none'] }));
    expect(msg).toMatch(/no HTCondor found.*CONDOR_LOCATION=.*none.*PATH.*\/cvmfs\/none.*--condor DIR/);
  });

  it('refuses an HTCondor older than the minimum, naming both versions', async () => {
    const msg = await configError(discoverCondor({ dir: release('old', '23.0.9'), env: { PATH: '/usr/bin:/bin' } }));
    expect(msg).toContain(`HTCondor 23.0.9`);
    expect(msg).toContain(`${MIN_CONDOR_VERSION.join('.')} or newer`);
  });

  it('refuses a DIR without condor_master rather than looking elsewhere', async () => {
    const msg = await configError(discoverCondor({ dir: join(dir, 'empty'), env: { PATH: `${join(FIXTURE, 'bin')}:${join(FIXTURE, 'sbin')}` } }));
    expect(msg).toMatch(/--condor .*empty/);
  });

  it('parses condor_version output and compares versions', () => {
    expect(parseCondorVersion('$CondorVersion: 25.14.0 2026-08-21 BuildID: 123 PRE-RELEASE-UWCS $')).toBe('25.14.0');
    expect(parseCondorVersion('condor 25')).toBeNull();
    expect(versionAtLeast('24.0.0', [24, 0, 0])).toBe(true);
    expect(versionAtLeast('23.10.2', [24, 0, 0])).toBe(false);
    expect(versionAtLeast('25.0.0', [24, 9, 9])).toBe(true);
  });
});
