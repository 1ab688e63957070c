// A job's state as the steps of its course see it (DESIGN.md section 7). job.ts owns it (class Job);
// one launch attempt (job-launch.ts), signals and reaping (job-reap.ts) and timers and credential
// updates (job-supervision.ts) take it as an argument and import nothing back: the sandbox has no
// import circle (test/sandbox/import-graph.test.ts).
import type { GpuHostPaths } from './gpu-devices.ts';
import type { GpuDeviceCgroup } from './gpu-cgroup.ts';
import type { Logger } from '../../shared/log.ts';
import type { Credential } from '../../shared/credential.ts';
import type { ContainerEntry } from '../../shared/container-entry.ts';
import type { CredStore } from '../store/index.ts';
import type { JobSpec } from './job-spec.ts';
import type { Policy } from './policy.ts';
import type { Account } from './account.ts';
import type { JobSelector } from './process-sweep.ts';
import type { JobCgroup } from './cgroup-job.ts';
import type { KillReason } from './result.ts';
import type { PlannedContainer } from './container-plan.ts';
import type { IdentityOutcome } from './identity.ts';
import type { JobAuditHooks, JobAuditOptions } from '../audit/job-audit-options.ts';

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
  /** The GPUs the pilot assigned this job (issue 23): its CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
   * name exactly these (none: HTCondor's "unassigned" value). Absent: no GPU bookkeeping (glidein exec), env left alone. */
  gpus?: readonly string[];
  /** HTCondor mode: the starter set the job's GPU variables (CUDA_VISIBLE_DEVICES, _CONDOR_AssignedGPUs);
   * `gpus` then only picks the container's device nodes and leaves the variables as they are. */
  keepGpuEnv?: boolean;
  /** Where the NVIDIA driver's procfs and device nodes are (default /proc, /dev); tests use fixture trees. */
  gpuPaths?: GpuHostPaths;
  /** The site audit records' context (issue 25): the pilot, the payload source, a shared sink. */
  audit?: JobAuditOptions;
}

export type UpdateResult = { ok: true } | { ok: false; reason: string };

/** The wrapper process of one launch attempt. */
export interface ChildProc {
  pid: number;
  exit: Promise<{ code: number | null; signal: string | null; spawnError?: Error }>;
}

export interface JobState {
  readonly spec: JobSpec;
  /** Random per job, in every payload process's environment: finds processes that left the session. */
  readonly jobMark: string;
  readonly opts: StartJobOptions;
  readonly log: Logger;
  killReason: KillReason | null;
  killDetail: string | null;
  credentials: Credential[];
  account: Account | null;
  agentWritesCredentials: boolean;
  credentialsWritten: boolean;
  writeChain: Promise<unknown>;
  child: ChildProc | null;
  selector: JobSelector | null;
  /** The attempt's own cgroup, where one can be made: ends the job with nothing left behind. */
  cgroup: JobCgroup | null;
  /** cgroup v1 devices: other GPUs' nodes closed to the job (issue 23, gpu-cgroup.ts); null where there is none. */
  gpuCgroup: GpuDeviceCgroup | null;
  /** The attempt's wrapper went into its cgroup at spawn and the payload's account cannot move out of it (JobCgroup.confines): an empty cgroup is a finished job. */
  cgroupConfines: boolean;
  ended: boolean;
  /** Set while a launch waits (backoff, wrapper connection): a kill wakes it. */
  onKill: (() => void) | null;
  /** Cleared when the job ends: the kill grace and the wallclock limit. */
  readonly timers: NodeJS.Timeout[];
  expiryTimer: NodeJS.Timeout | null;
  /** The container the job runs in (issue 22); null: bare. */
  container: PlannedContainer | null;
  /** How the identity was decided (claims, mapfile line), for the site's audit records (issue 25). */
  identity: IdentityOutcome | null;
  readonly audit: JobAuditHooks;
  /** A non-root agent in helper mode: signals go through `glidein wrapper kill` via the helper. */
  readonly usesHelperForKills: boolean;
  /** The owner of the job's files: the account, when the agent is root (it can chown). */
  owner(): { uid: number; gid: number } | undefined;
  /** Stop the job: SIGTERM to all of it, SIGKILL after the policy's grace. */
  kill(reason: KillReason): void;
}
