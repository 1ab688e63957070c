// When the batch system will kill this job (issue 12 item 4), so the pilot retires before it and
// drains while the kill grace and a margin still fit. Sources, first found wins:
// * SLURM_JOB_END_TIME (unix seconds; set by newer Slurm in the job's environment);
// * SLURM_JOB_ID: `squeue -h -j ID -o %e` with SLURM_TIME_FORMAT=%s (strftime epoch seconds;
//   Slurm 22.05 formats %e with it), else `scontrol show job -o ID`'s EndTime=;
// * _CONDOR_MACHINE_AD: GLIDEIN_ToDie (unix seconds) of a glidein slot the pilot runs in
//   (GlideinWMS's attribute, which `--condor` mode also advertises).
// A job without a time limit (Slurm prints N/A or Unknown) has no known end.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface BatchEnd {
  /** Unix seconds at which the batch system kills the job. */
  endsAt: number;
  /** Where it came from (for the log). */
  source: string;
}

/** Runs a command, returns its stdout, or undefined when it fails (missing, non-zero, timeout). */
export type CommandRunner = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => string | undefined;

export interface BatchEndOptions {
  env: NodeJS.ProcessEnv;
  nowS: number;
  run?: CommandRunner;
  readFile?: (path: string) => string | undefined;
}

const QUERY_TIMEOUT_MS = 10_000;

export const runCommand: CommandRunner = (cmd, args, env) => {
  try {
    return execFileSync(cmd, args, { env, encoding: 'utf8', timeout: QUERY_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};

function readSmallFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').slice(0, 1 << 20);
  } catch {
    return undefined;
  }
}

/** Unix seconds from an epoch integer or an ISO-like local date (Slurm's "standard" format). */
export function parseEndTime(text: string | undefined): number | undefined {
  const v = text?.trim();
  if (!v) return undefined;
  if (/^\d{9,11}$/.test(v)) return Number(v);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

function slurmEnd(env: NodeJS.ProcessEnv, run: CommandRunner): BatchEnd | undefined {
  const fromEnv = parseEndTime(env['SLURM_JOB_END_TIME']);
  if (fromEnv !== undefined) return { endsAt: fromEnv, source: 'SLURM_JOB_END_TIME' };
  const id = env['SLURM_JOB_ID'] ?? env['SLURM_JOBID'];
  if (!id || !/^\d+(_\d+)?$/.test(id)) return undefined;
  const qenv = { ...env, SLURM_TIME_FORMAT: '%s' };
  const squeue = parseEndTime(run('squeue', ['-h', '-j', id, '-o', '%e'], qenv)?.split('\n')[0]);
  if (squeue !== undefined) return { endsAt: squeue, source: `squeue -j ${id}` };
  const show = run('scontrol', ['show', 'job', '-o', id], qenv);
  const m = show ? /\bEndTime=(\S+)/.exec(show) : null;
  const scontrol = parseEndTime(m?.[1]);
  return scontrol === undefined ? undefined : { endsAt: scontrol, source: `scontrol show job ${id}` };
}

function condorEnd(env: NodeJS.ProcessEnv, readFile: (path: string) => string | undefined): BatchEnd | undefined {
  const path = env['_CONDOR_MACHINE_AD'];
  const ad = path ? readFile(path) : undefined;
  const m = ad ? /^\s*GLIDEIN_ToDie\s*=\s*(\d+)\s*$/im.exec(ad) : null;
  return m ? { endsAt: Number(m[1]), source: '_CONDOR_MACHINE_AD GLIDEIN_ToDie' } : undefined;
}

/** The batch system's end for this job, if it tells one that is still ahead. */
export function detectBatchEnd(o: BatchEndOptions): BatchEnd | undefined {
  const found = slurmEnd(o.env, o.run ?? runCommand) ?? condorEnd(o.env, o.readFile ?? readSmallFile);
  return found && found.endsAt > o.nowS ? found : undefined;
}
