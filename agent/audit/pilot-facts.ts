// Who ran a job, on the pilot side, for the site's audit record (issue 25): the glidein id and
// entry from the bundle, the factory (the origin of its refresh service) and the batch system's
// id of the pilot job itself, from the variables each batch system sets.
import { readFileSync } from 'node:fs';
import type { Bundle } from '../../shared/protocol.ts';
import type { AuditPilot } from './audit-record.ts';

/** Batch systems' job id variables, in the order checked: `<system>:<id>`. */
const BATCH_VARIABLES: readonly [string, string][] = [
  ['SLURM_JOB_ID', 'slurm'],
  ['SLURM_JOBID', 'slurm'],
  ['PBS_JOBID', 'pbs'],
  ['LSB_JOBID', 'lsf'],
  ['JOB_ID', 'sge'],
];

const SAFE_ID = /^[A-Za-z0-9@._#:+\[\]-]{1,200}$/;

/** The pilot job's own batch id, or null: Slurm, PBS, LSF, SGE variables, or HTCondor's job ad. */
export function batchJobId(env: NodeJS.ProcessEnv): string | null {
  for (const [name, system] of BATCH_VARIABLES) {
    const v = env[name];
    if (v !== undefined && SAFE_ID.test(v)) return `${system}:${v}`;
  }
  const ad = env['_CONDOR_JOB_AD'];
  if (ad) {
    try {
      const m = /^GlobalJobId\s*=\s*"([^"\n]*)"\s*$/m.exec(readFileSync(ad, 'utf8'));
      if (m && SAFE_ID.test(m[1]!)) return `condor:${m[1]}`;
    } catch {
      /* no ad: not known */
    }
  }
  return null;
}

function originOf(url: string | readonly string[]): string | null {
  const first = typeof url === 'string' ? url : url[0];
  try {
    return first ? new URL(first).origin : null;
  } catch {
    return null;
  }
}

/** The pilot's part of every audit record. */
export function pilotFacts(bundle: Pick<Bundle, 'glideinId' | 'entry' | 'refreshUrl'>, env: NodeJS.ProcessEnv): AuditPilot {
  return { glideinId: bundle.glideinId, entry: bundle.entry, factory: originOf(bundle.refreshUrl), batchJob: batchJobId(env) };
}
