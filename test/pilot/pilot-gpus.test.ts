// GPUs through the real agent (issue 23): `glidein run --spool` as a real process, the real
// refresh service on loopback, validation reading a stand-in nvidia-smi with four GPUs (the only
// fake: this machine has no GPU). Spool jobs get their own devices by UUID, none held by two
// running jobs at once; one asking for more than the node has is held; the `-- COMMAND` payload
// gets every validated GPU.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf } from '../fixtures/pilot/agent.ts';
import { FIXTURES } from '../validate/fixture.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

const PATH = `${join(FIXTURES, 'bin-gpu4')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
const UUIDS = [0, 1, 2, 3].map((i) => `GPU-${i}a1b2c3d-${String(i).repeat(4)}-4a6c-9f7e-1a2b3c4d5e6${i}`);

describe('glidein run with GPUs', () => {
  it.concurrent('spool jobs each get their own GPUs by UUID, never one held twice; too many is held', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-gpu-spool');
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ identity: 'none', allowPilotIdentity: true }));
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    const log = join(dir, 'events.log');
    // Three GPUs each: two such jobs can never run together on four, whatever the slot count.
    const jobs: [string, number][] = [['a3', 3], ['b3', 3], ['c1', 1], ['d2', 2], ['e3', 3], ['greedy', 5]];
    for (const [id, gpus] of jobs) {
      const script = `echo "start ${id} $CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES" >> ${log}; sleep 0.3; echo "end ${id}" >> ${log}`;
      writeFileSync(join(spool, `${id}.json`), JSON.stringify({ id, executable: '/bin/sh', args: ['-c', script], gpus }));
    }
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', policy, '--idle-timeout', '2'], { PATH }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'idle-timeout', jobs: { completed: 5, held: 1 } });
    const greedy = JSON.parse(readFileSync(join(spool, 'greedy.result.json'), 'utf8')) as Record<string, unknown>;
    expect(greedy).toMatchObject({ state: 'held', launchError: { stage: 'gpus', code: 'GPUS_UNAVAILABLE' } });
    expect(r.stderr).toContain('"gpus":4');

    const holding = new Map<string, string[]>();
    const seen = new Map<string, string[]>();
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      const [what, job, cuda, nvidia] = line.split(' ');
      if (what !== 'start') {
        holding.delete(job!);
        continue;
      }
      const devices = cuda!.split(',');
      expect(nvidia, line).toBe(cuda);
      for (const d of devices) expect([...holding].find(([, ds]) => ds.includes(d)), `${d} given to ${job} twice`).toBeUndefined();
      holding.set(job!, devices);
      seen.set(job!, devices);
    }
    for (const [id, gpus] of jobs.filter(([id]) => id !== 'greedy')) {
      expect(seen.get(id), id).toHaveLength(gpus);
      for (const d of seen.get(id)!) expect(UUIDS).toContain(d);
    }
  }, 90_000);

  it.concurrent('the -- COMMAND payload gets every validated GPU; CUDA_VISIBLE_DEVICES of the batch slot narrows them', async () => {
    const { s, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-gpu-cmd');
    const script = 'echo "cuda=$CUDA_VISIBLE_DEVICES nvidia=$NVIDIA_VISIBLE_DEVICES"';
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', script], { PATH, CUDA_VISIBLE_DEVICES: '2,0' }).done;
    expect(r.code, r.stderr).toBe(0);
    const both = `${UUIDS[2]},${UUIDS[0]}`;
    expect(r.stdout).toContain(`cuda=${both} nvidia=${both}`);
  }, 90_000);
});
