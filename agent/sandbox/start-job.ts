// Starting and supervising one job (DESIGN.md section 7): identity → credentials → stdio →
// wrapper under the target identity → close-on-exec channel → supervision (wallclock, kills,
// credential expiry) → every process of the job gone → credentials wiped → one result.
// The public entry points; the job itself: job.ts (its course), job-launch.ts (one launch
// attempt), job-reap.ts (signals, reaping, clean-up), job-supervision.ts (timers, credential updates).
import type { Credential } from '../../shared/credential.ts';
import type { JobSpec } from './job-spec.ts';
import type { JobResult, KillReason } from './result.ts';
import type { StartJobOptions, UpdateResult } from './job-state.ts';
import { Job } from './job.ts';

export type { StartJobOptions, UpdateResult } from './job-state.ts';

export interface JobHandle {
  readonly id: string;
  readonly result: Promise<JobResult>;
  /** Stop the job: SIGTERM to all of it, SIGKILL after the policy's killGraceSeconds. */
  kill(reason: KillReason): void;
  /** Hand the job a fresher credential (same purpose, same iss,sub); it is written atomically in the background. */
  updateCredential(cred: Credential): UpdateResult;
}

/** Start one job; its result arrives on `handle.result`. */
export function startJob(spec: JobSpec, options: StartJobOptions): JobHandle {
  const job = new Job(spec, options);
  return {
    id: spec.id,
    // The end record is written before anyone sees the result: a job the site cannot trace is not done.
    result: job.run().then(async (r) => {
      await job.audit.ended(r);
      return r;
    }),
    kill: (reason) => job.kill(reason),
    updateCredential: (cred) => job.updateCredential(cred),
  };
}

/** Run one job to its end: the path `glidein exec` and the pilot's spool both take. */
export function runJob(spec: JobSpec, options: StartJobOptions): Promise<JobResult> {
  return startJob(spec, options).result;
}
