// Pilot jobs for the Slurm suite: the batch script (exec'ing `dist/glidein run`, or a shell that
// does not exec, as `sbatch --wrap` makes), job state from scontrol, waiting for a job to start
// or be gone, and what a pilot left under its work-dir base.
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXE } from '../helpers/paths.ts';
import type { SlurmCluster } from '../helpers/slurm.ts';

export interface PilotFiles {
  /** The test's directory for this pilot (bundle, payload, job output). */
  dir: string;
  bundle: string;
  /** The --workdir base: the pilot makes its private work dir inside. */
  base: string;
  /** The payload script (run by /bin/sh as the pilot's command). */
  payload: string;
}

/** The `glidein run` command line of a pilot (one command payload). */
export function pilotCommand(p: PilotFiles): string[] {
  return [EXE, '--log-format', 'json', 'run', '--bundle', p.bundle, '--workdir', p.base, '--failure-delay', '0', '--', '/bin/sh', p.payload];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A batch script that records its start and execs the pilot (what sites should do). */
export function writeExecScript(p: PilotFiles): string {
  const path = join(p.dir, 'pilot.sbatch');
  writeFileSync(path, ['#!/bin/sh', `date +%s%N > ${quote(join(p.dir, 'job-start-ns'))}`, `exec ${pilotCommand(p).map(quote).join(' ')}`, ''].join('\n'), { mode: 0o755 });
  return path;
}

/** The argument of `sbatch --wrap`: the shell Slurm makes runs the pilot as a child (no exec). */
export function wrapCommand(p: PilotFiles): string {
  return pilotCommand(p).map(quote).join(' ');
}

/** sbatch with the job's output in the pilot's dir; returns the job id. */
export async function sbatch(slurm: SlurmCluster, p: PilotFiles, args: string[]): Promise<string> {
  const r = await slurm.client('sbatch', ['--parsable', '-J', 'glidein-pilot', '-o', join(p.dir, 'job.out'), '-e', join(p.dir, 'job.err'), ...args]);
  if (r.code !== 0) throw new Error(`sbatch ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim().split(';')[0]!;
}

export interface JobInfo {
  state: string;
  reason: string;
  exitCode: string;
}

export async function jobInfo(slurm: SlurmCluster, id: string): Promise<JobInfo | undefined> {
  const r = await slurm.client('scontrol', ['-o', 'show', 'job', id]);
  if (r.code !== 0) return undefined;
  const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(r.stdout)?.[1] ?? '';
  return { state: field('JobState'), reason: field('Reason'), exitCode: field('ExitCode') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for a file the payload writes (the job is running and has got that far). */
export async function waitForFile(slurm: SlurmCluster, id: string, path: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`job ${id}: ${path} did not appear in ${timeoutMs / 1000} s (${JSON.stringify(await jobInfo(slurm, id))})\n${slurm.logs(10)}`);
    await sleep(200);
  }
}

/** Wait until the job has left the queue entirely (not pending, running or completing). */
export async function waitGone(slurm: SlurmCluster, id: string, timeoutMs: number): Promise<JobInfo> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const q = await slurm.client('squeue', ['-h', '-j', id, '-o', '%T']);
    if (q.code === 0 && q.stdout.trim() === '') break;
    if (Date.now() > until) throw new Error(`job ${id} still queued after ${timeoutMs / 1000} s: ${q.stdout.trim()}`);
    await sleep(250);
  }
  const info = await jobInfo(slurm, id);
  if (!info) throw new Error(`job ${id}: scontrol knows it no longer`);
  return info;
}

/** Every file (not directory) under dir, relative paths. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (lstatSync(path).isDirectory()) walk(path, r);
      else out.push(r);
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

/** Files under the base that hold a pilot secret: anything in a credential store, or a JWT. */
export function secretsUnder(base: string): string[] {
  const jwt = /eyJ[\w-]+\.[\w-]+\./;
  return filesUnder(base).filter((f) => {
    if (f.split('/').includes('cred.d')) return true;
    try {
      return jwt.test(readFileSync(join(base, f), 'utf8'));
    } catch {
      return false;
    }
  });
}

/** The pilot's summary (the last line of its stdout, in job.out). */
export function pilotSummary(p: PilotFiles): Record<string, unknown> | undefined {
  const out = existsSync(join(p.dir, 'job.out')) ? readFileSync(join(p.dir, 'job.out'), 'utf8').trim() : '';
  try {
    return JSON.parse(out.split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function pilotLog(p: PilotFiles): string {
  return existsSync(join(p.dir, 'job.err')) ? readFileSync(join(p.dir, 'job.err'), 'utf8') : '(no job.err)';
}

/** Seconds since the epoch of each credential in a bundle, from the JWTs' `exp`. */
export function bundleExpiries(bundlePath: string): number[] {
  const wire = JSON.parse(readFileSync(bundlePath, 'utf8')) as { credentials: { token: string }[] };
  return wire.credentials.map((c) => (JSON.parse(Buffer.from(c.token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp);
}
