// The batch end read from a real Slurm (issue 12 item 4): a job with a 5-minute time limit on a
// one-node cluster (test/helpers/slurm.ts); detectBatchEnd asks the real squeue (and scontrol)
// for its end. Skipped with the reason where Slurm cannot run; required in CI.
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../helpers/system-tools.ts';
import { SLURM_HOW, slurmUnavailable, startSlurm, type SlurmCluster } from '../helpers/slurm.ts';
import { detectBatchEnd, runCommand, type CommandRunner } from '../../agent/pilot/batch-end.ts';

const unavailable = slurmUnavailable();
let slurm: SlurmCluster | undefined;
let startError = '';
if (!skipWithout('Slurm (munged, slurmctld, slurmd and the client commands)', unavailable === undefined, `${unavailable ?? ''}: ${SLURM_HOW}`)) {
  try {
    slurm = await startSlurm();
  } catch (e) {
    startError = (e as Error).message;
  }
}
const skip = unavailable !== undefined || skipWithout('a running one-node Slurm cluster', slurm !== undefined, `slurmctld/slurmd could not start here: ${startError}`);
afterAll(() => slurm?.stop());

async function runningJob(cluster: SlurmCluster, limitMin: number): Promise<string> {
  const sub = await cluster.client('sbatch', ['--parsable', `--time=${limitMin}`, '-o', '/dev/null', '--wrap', 'sleep 300']);
  expect(sub.code, sub.stderr).toBe(0);
  const id = sub.stdout.trim().split(';')[0]!;
  for (let i = 0; i < 120; i++) {
    const q = await cluster.client('squeue', ['-h', '-j', id, '-o', '%T']);
    if (q.stdout.trim() === 'RUNNING') return id;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not start\n${cluster.logs()}`);
}

describe.skipIf(skip)('detectBatchEnd under a real Slurm', () => {
  it('reads a running job\'s end (start + time limit) from squeue, and from scontrol when squeue is absent', async () => {
    const cluster = slurm!;
    const id = await runningJob(cluster, 5);
    const nowS = Math.floor(Date.now() / 1000);
    const env = { ...cluster.env, SLURM_JOB_ID: id };
    const fromSqueue = detectBatchEnd({ env, nowS });
    expect(fromSqueue?.source).toBe(`squeue -j ${id}`);
    expect(fromSqueue!.endsAt - nowS).toBeGreaterThan(4 * 60);
    expect(fromSqueue!.endsAt - nowS).toBeLessThanOrEqual(5 * 60);
    const noSqueue: CommandRunner = (cmd, args, e) => (cmd === 'squeue' ? undefined : runCommand(cmd, args, e));
    const fromScontrol = detectBatchEnd({ env, nowS, run: noSqueue });
    expect(fromScontrol).toEqual({ endsAt: fromSqueue!.endsAt, source: `scontrol show job ${id}` });
    await cluster.client('scancel', [id]);
  }, 120_000);
});
