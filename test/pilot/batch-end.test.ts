// The batch system's end (issue 12 item 4): which sources are read, in which order, and what is
// not an end (no time limit, a time already past).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectBatchEnd, parseEndTime, type CommandRunner } from '../../agent/pilot/batch-end.ts';

const NOW = 1_900_000_000;

/** A command runner answering from a table; records what it was asked and with which time format. */
function runner(answers: Record<string, string | undefined>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  const fn = ((cmd: string, args: string[], env: NodeJS.ProcessEnv) => {
    calls.push(`${cmd} ${args.join(' ')} [${env['SLURM_TIME_FORMAT']}]`);
    return answers[cmd];
  }) as CommandRunner & { calls: string[] };
  fn.calls = calls;
  return fn;
}

describe('detectBatchEnd', () => {
  it('takes SLURM_JOB_END_TIME first, without asking Slurm', () => {
    const run = runner({});
    expect(detectBatchEnd({ env: { SLURM_JOB_END_TIME: String(NOW + 3600), SLURM_JOB_ID: '42' }, nowS: NOW, run })).toEqual({ endsAt: NOW + 3600, source: 'SLURM_JOB_END_TIME' });
    expect(run.calls).toEqual([]);
  });

  it('asks squeue for the job end time in epoch seconds (SLURM_TIME_FORMAT=%s)', () => {
    const run = runner({ squeue: `${NOW + 600}\n` });
    expect(detectBatchEnd({ env: { SLURM_JOB_ID: '42' }, nowS: NOW, run })).toEqual({ endsAt: NOW + 600, source: 'squeue -j 42' });
    expect(run.calls).toEqual(['squeue -h -j 42 -o %e [%s]']);
  });

  it('falls back to scontrol show job EndTime= when squeue does not answer', () => {
    const run = runner({ squeue: undefined, scontrol: `JobId=42 JobName=pilot TimeLimit=00:10:00 StartTime=${NOW - 10} EndTime=${NOW + 590} Deadline=N/A` });
    expect(detectBatchEnd({ env: { SLURM_JOB_ID: '42' }, nowS: NOW, run })).toEqual({ endsAt: NOW + 590, source: 'scontrol show job 42' });
  });

  it.each([['N/A'], ['Unknown'], ['NONE'], ['']])('knows no end for a job without a time limit (squeue prints %j)', (text) => {
    expect(detectBatchEnd({ env: { SLURM_JOB_ID: '42' }, nowS: NOW, run: runner({ squeue: text, scontrol: 'JobId=42 EndTime=Unknown' }) })).toBeUndefined();
  });

  it('ignores an end already past and a malformed job id', () => {
    expect(detectBatchEnd({ env: { SLURM_JOB_END_TIME: String(NOW - 1) }, nowS: NOW, run: runner({}) })).toBeUndefined();
    const run = runner({ squeue: String(NOW + 60) });
    expect(detectBatchEnd({ env: { SLURM_JOB_ID: '42; rm -rf /' }, nowS: NOW, run })).toBeUndefined();
    expect(run.calls).toEqual([]);
  });

  it('reads GLIDEIN_ToDie from the machine ad of a glidein slot the pilot runs in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'glidein-batch-end-'));
    try {
      const ad = join(dir, '.machine.ad');
      writeFileSync(ad, `MyType = "Machine"\nGLIDEIN_ToRetire = ${NOW + 3000}\nGLIDEIN_ToDie = ${NOW + 3600}\n`);
      expect(detectBatchEnd({ env: { _CONDOR_MACHINE_AD: ad }, nowS: NOW, run: runner({}) })).toEqual({ endsAt: NOW + 3600, source: '_CONDOR_MACHINE_AD GLIDEIN_ToDie' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows no end outside a batch system', () => {
    expect(detectBatchEnd({ env: {}, nowS: NOW, run: runner({}) })).toBeUndefined();
  });
});

describe('parseEndTime', () => {
  it('reads epoch seconds and Slurm\'s standard local time format', () => {
    expect(parseEndTime('1900000000')).toBe(1_900_000_000);
    expect(parseEndTime('2030-01-02T03:04:05')).toBe(Math.floor(new Date(2030, 0, 2, 3, 4, 5).getTime() / 1000));
    expect(parseEndTime('Tomorr 03:04')).toBeUndefined();
  });
});
