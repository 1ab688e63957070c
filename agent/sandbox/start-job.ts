// Starting and supervising one job (DESIGN.md section 7): identity → credentials → stdio →
// wrapper under the target identity → close-on-exec channel → supervision (wallclock, kills,
// credential expiry) → every process of the job gone → credentials wiped → one result.
// The public entry points; the job itself: job.ts (its course), job-launch.ts (one launch
// attempt), job-reap.ts (signals, reaping, clean-up), job-supervision.ts (timers, credential updates).
import type { Logger } from '../../shared/log.ts';
import type { Credential } from '../../shared/credential.ts';
import type { CredStore } from '../store/index.ts';
import type { JobSpec } from './job-spec.ts';
import type { Policy } from './policy.ts';
import type { JobResult, KillReason } from './result.ts';
import type { ContainerEntry } from '../../shared/container-entry.ts';
import { Job } from './job.ts';

export interface StartJobOptions {
  policy: Policy;
  store: CredStore;
  log: Logger;
  /** Aborting it stops the job with reason `pilot-shutdown`. */
  signal?: AbortSignal;
  /** Where the harmless basics of the payload's environment (LANG, TZ …) come from; default process.env. */
  agentEnv?: NodeJS.ProcessEnv;
  /** How to start `glidein wrapper`; default: this same program (shared/self-command.ts). The
   * benchmarks pass the built executable so an in-process measurement uses the production wrapper. */
  wrapperCommand?: readonly string[];
  /** The factory entry's container mode and default image (bundle field `container`); default: optional, none. */
  container?: ContainerEntry;
}

export type UpdateResult = { ok: true } | { ok: false; reason: string };

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
    result: job.run(),
    kill: (reason) => job.kill(reason),
    updateCredential: (cred) => job.updateCredential(cred),
  };
}

/** Run one job to its end: the path `glidein exec` and the pilot's spool both take. */
export function runJob(spec: JobSpec, options: StartJobOptions): Promise<JobResult> {
  return startJob(spec, options).result;
}
