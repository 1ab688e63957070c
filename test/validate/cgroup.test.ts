import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cgroupCpuLimit, cgroupMemoryLimit } from '../../agent/validate/cgroup.ts';
import { fixtureHost, FIXTURES } from './fixture.ts';

describe('cgroup limits', () => {
  it('reads the cgroup v2 cpu.max quota of the pilot\'s own cgroup as CPUs', async () => {
    const limit = await cgroupCpuLimit(fixtureHost('cgroup-v2'));
    expect(limit).toEqual({ version: 2, cpus: 8, path: join(FIXTURES, 'cgroup-v2', 'sys', 'fs', 'cgroup', 'system.slice', 'glidein.service') });
  });

  it('takes the tightest cgroup v2 memory.max on the way up to the root (the parent slice binds)', async () => {
    const limit = await cgroupMemoryLimit(fixtureHost('cgroup-v2'));
    expect(limit?.bytes).toBe(8 * 2 ** 30);
    expect(limit?.path).toBe(join(FIXTURES, 'cgroup-v2', 'sys', 'fs', 'cgroup', 'system.slice'));
  });

  it('reads a cgroup v1 CFS quota from the cpu,cpuacct hierarchy as a fractional CPU count', async () => {
    const limit = await cgroupCpuLimit(fixtureHost('cgroup-v1'));
    expect(limit?.version).toBe(1);
    expect(limit?.cpus).toBeCloseTo(1.5);
  });

  it('reads a cgroup v1 memory limit and ignores the root\'s "unlimited" value', async () => {
    const limit = await cgroupMemoryLimit(fixtureHost('cgroup-v1'));
    expect(limit).toMatchObject({ version: 1, bytes: 4 * 2 ** 30 });
  });

  it('reports no limit when the node has no cgroup files', async () => {
    expect(await cgroupCpuLimit(fixtureHost('bare'))).toBeNull();
    expect(await cgroupMemoryLimit(fixtureHost('bare'))).toBeNull();
  });
});
