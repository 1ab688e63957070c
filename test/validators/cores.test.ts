import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cores, checkCores } from '../../agent/validators/cores.ts';
import { resolveHost } from '../../agent/validate/host.ts';
import { collectContext, fixtureHost, FIXTURES } from '../validate/fixture.ts';

async function run(tree: string, env: NodeJS.ProcessEnv = {}, required?: number) {
  const host = fixtureHost(tree, env);
  const req = required === undefined ? {} : { cores: required };
  return cores.check(await cores.collect(collectContext(host, { requirements: req })), req);
}

describe('cores', () => {
  it.each([
    ['cgroup v2 quota below the node size', 'cgroup-v2', {}, 8, /^8 usable of 64 \(cgroup v2 quota 8 CPUs\)/],
    ['cgroup v1 quota of 1.5 CPUs rounds up, below the affinity mask', 'cgroup-v1', {}, 2, /^2 usable of 16 \(cgroup v1 quota 1.5 CPUs\)/],
    ['no affinity or cgroup: the node\'s processors', 'bare', {}, 3, /^3 usable of 3 \(node\)/],
    ['a SLURM allocation below the quota', 'cgroup-v2', { SLURM_JOB_ID: '7', SLURM_CPUS_ON_NODE: '3' }, 3, /SLURM allocation/],
    ['an HTCondor machine ad', 'cgroup-v2', { _CONDOR_MACHINE_AD: join(FIXTURES, 'batch', 'machine.ad') }, 4, /HTCondor machine ad allocation/],
    ['a PBS allocation', 'cgroup-v2', { PBS_JOBID: '1', PBS_NP: '2' }, 2, /PBS allocation/],
  ])('counts what the pilot may use: %s', async (_what, tree, env, value, detail) => {
    const { result, attributes } = await run(tree, env);
    expect(result).toMatchObject({ name: 'cores', status: 'pass', value, required: null, failure: null });
    expect(result.detail).toMatch(detail);
    expect(attributes).toEqual({ GLIDEIN_CPUS: value });
  });

  it('fails with WN_Resource when fewer cores are usable than required', async () => {
    const { result } = await run('cgroup-v1', {}, 4);
    expect(result).toMatchObject({ status: 'fail', value: 2, required: 4, failure: 'WN_Resource' });
  });

  it('passes when exactly the required cores are usable', async () => {
    expect((await run('cgroup-v2', {}, 8)).result.status).toBe('pass');
  });

  it('warns without a requirement and fails with one when nothing can be read', () => {
    const facts = { nodeCpus: null, affinityCpus: null, cgroup: null, batch: { allocations: [], ignored: [] } };
    expect(checkCores(facts, {}).result.status).toBe('warn');
    expect(checkCores(facts, { cores: 1 }).result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });

  it('on this machine equals the CPUs this test process may use (affinity and cgroup quota)', async () => {
    const host = resolveHost();
    const facts = await cores.collect(collectContext(host));
    const { result } = cores.check(facts, {});
    const quota = facts.cgroup ? Math.ceil(facts.cgroup.cpus) : Infinity;
    expect(result.value).toBe(Math.min(availableParallelism(), quota));
    expect(facts.affinityCpus).toBe(availableParallelism());
  });
});
