import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { release, machine } from 'node:os';
import { os } from '../../agent/validators/os.ts';
import { parseOsRelease } from '../../agent/validate/facts/os.ts';
import { resolveHost } from '../../agent/validate/host.ts';
import { collectContext, fixtureHost } from '../validate/fixture.ts';

describe('os', () => {
  it('reads the distribution, kernel and architecture from the fixture tree', async () => {
    const { result, attributes } = os.check(await os.collect(collectContext(fixtureHost('cgroup-v2'))), {});
    expect(result).toMatchObject({ name: 'os', status: 'pass', value: 'rocky 9.4', failure: null });
    expect(result.detail).toMatch(/^Rocky Linux 9\.4 \(Blue Onyx\), kernel 5\.14\.0-427\.13\.1\.el9_4\.x86_64, /);
    expect(attributes).toMatchObject({ GLIDEIN_OS_DISTRO: 'rocky 9.4', GLIDEIN_ARCH: machine() });
  });

  it('warns (never fails) when there is no os-release', async () => {
    const { result } = os.check(await os.collect(collectContext(fixtureHost('bare'))), {});
    expect(result).toMatchObject({ status: 'warn', value: 'unknown', failure: null });
  });

  it('on this machine matches /etc/os-release, the running kernel and the C library', async () => {
    const facts = await os.collect(collectContext(resolveHost()));
    const rel = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
    expect(facts).toMatchObject({ distribution: rel.ID, versionId: rel.VERSION_ID, kernel: release(), arch: machine() });
    expect(facts.glibc).toMatch(/^2\.\d+$/);
  });
});
