import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { memory } from '../../agent/validators/memory.ts';
import { resolveHost } from '../../agent/validate/host.ts';
import { collectContext, fixtureHost, FIXTURES } from '../validate/fixture.ts';

const GiB = 2 ** 30;

async function run(tree: string, env: NodeJS.ProcessEnv = {}, required?: number) {
  const req = required === undefined ? {} : { memory: required };
  return memory.check(await memory.collect(collectContext(fixtureHost(tree, env), { requirements: req })), req);
}

describe('memory', () => {
  it.each([
    ['the parent slice\'s cgroup v2 limit', 'cgroup-v2', {}, 8 * GiB, /^8 GiB usable of 252 GiB \(cgroup v2 limit\)/],
    ['a cgroup v1 limit', 'cgroup-v1', {}, 4 * GiB, /^4 GiB usable of 62.5 GiB \(cgroup v1 limit\)/],
    ['a SLURM allocation below the cgroup limit', 'cgroup-v2', { SLURM_JOB_ID: '1', SLURM_CPUS_ON_NODE: '2', SLURM_MEM_PER_NODE: '2048' }, 2 * GiB, /SLURM allocation/],
    ['an HTCondor machine ad above the cgroup limit (the cgroup binds)', 'cgroup-v1', { _CONDOR_MACHINE_AD: join(FIXTURES, 'batch', 'machine.ad') }, 4 * GiB, /cgroup v1 limit/],
  ])('counts what the pilot may use: %s', async (_what, tree, env, value, detail) => {
    const { result, attributes } = await run(tree, env);
    expect(result).toMatchObject({ name: 'memory', status: 'pass', value, failure: null });
    expect(result.detail).toMatch(detail);
    expect(attributes).toEqual({ GLIDEIN_MaxMemMBs: value / 2 ** 20 });
  });

  it('fails with WN_Resource when less memory is usable than required', async () => {
    const { result } = await run('cgroup-v1', {}, 6 * GiB);
    expect(result).toMatchObject({ status: 'fail', value: 4 * GiB, required: 6 * GiB, failure: 'WN_Resource' });
  });

  it('on this machine is at most the node\'s MemTotal', async () => {
    const total = Number(/MemTotal:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    const { result } = memory.check(await memory.collect(collectContext(resolveHost())), {});
    expect(result.status).toBe('pass');
    expect(result.value).toBeGreaterThan(0);
    expect(result.value as number).toBeLessThanOrEqual(total);
  });
});
