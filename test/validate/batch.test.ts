import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { batchFacts } from '../../agent/validate/batch.ts';
import { fixtureHost, FIXTURES } from './fixture.ts';

const MiB = 2 ** 20;

describe('batch allocations', () => {
  it.each([
    ['an HTCondor machine ad', { _CONDOR_MACHINE_AD: join(FIXTURES, 'batch', 'machine.ad') }, { source: 'HTCondor machine ad', cpus: 4, memoryBytes: 8192 * MiB, gpus: 1 }],
    ['SLURM per-node memory', { SLURM_JOB_ID: '1', SLURM_CPUS_ON_NODE: '6', SLURM_MEM_PER_NODE: '12000' }, { source: 'SLURM', cpus: 6, memoryBytes: 12000 * MiB }],
    ['SLURM per-CPU memory', { SLURM_JOB_ID: '1', SLURM_CPUS_ON_NODE: '2', SLURM_MEM_PER_CPU: '2G' }, { source: 'SLURM', cpus: 2, memoryBytes: 4096 * MiB }],
    ['PBS processors per node', { PBS_JOBID: '9.pbs', PBS_NP: '16', PBS_NUM_PPN: '8' }, { source: 'PBS', cpus: 8 }],
    ['LSF slots on this host', { LSB_JOBID: '5', LSB_MCPU_HOSTS: `other.example.org 4 ${hostname()} 3` }, { source: 'LSF', cpus: 3 }],
    ['LSF with one host', { LSB_JOBID: '5', LSB_MCPU_HOSTS: 'wn1 12' }, { source: 'LSF', cpus: 12 }],
  ])('reads %s', async (_what, env, expected) => {
    const facts = await batchFacts(fixtureHost('bare', env));
    expect(facts.allocations).toEqual([expected]);
  });

  it('ignores malformed values and names them instead of guessing', async () => {
    const facts = await batchFacts(fixtureHost('bare', { SLURM_JOB_ID: '1', SLURM_CPUS_ON_NODE: '4;rm -rf', PBS_NP: 'lots', _CONDOR_MACHINE_AD: '/nonexistent/ad' }));
    expect(facts.allocations).toEqual([]);
    expect(facts.ignored.join(' ')).toMatch(/SLURM_CPUS_ON_NODE/);
    expect(facts.ignored.join(' ')).toMatch(/PBS_NP/);
    expect(facts.ignored.join(' ')).toMatch(/_CONDOR_MACHINE_AD/);
  });

  it('finds nothing outside a batch job', async () => {
    expect((await batchFacts(fixtureHost('bare', {}))).allocations).toEqual([]);
  });
});
