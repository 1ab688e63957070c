// The pilot's options, events and summary (DESIGN.md section 10), shared by runPilot and the
// parts it wires.
import type { GpuPool } from './gpu-pool.ts';
import type { Logger } from '../../shared/log.ts';
import type { ContainerEntry } from '../../shared/container-entry.ts';
import type { CredStore } from '../store/index.ts';
import type { Clock } from './clock.ts';
import type { RefresherEvent, RetryPolicy } from './refresher.ts';
import type { JobCounts, PilotState } from './status-client.ts';
import type { SpoolJobResult } from './spool.ts';
import type { ValidateFn, ValidationOutcome } from './validation.ts';
import type { PayloadSource } from './payload-source.ts';
import type { BatchEnd } from './batch-end.ts';
import type { AuditPilot } from '../audit/audit-record.ts';
import type { ScriptAccount } from './scripts/run-script.ts';

export interface LaunchContext {
  store: CredStore;
  log: Logger;
  signal: AbortSignal;
  workdir: string;
  env: NodeJS.ProcessEnv;
  /** The bundle's container entry (mode, default image); absent: optional, none. */
  container?: ContainerEntry;
  /** The pilot's GPUs (issue 23), handed to jobs by their spec's `gpus`; absent: the pilot has none. */
  gpus?: GpuPool;
  /** Aborted when the source stops taking work (retire, drain): a launch still waiting (for GPUs) gives up its job untaken. */
  stopTaking?: AbortSignal;
  /** Who this pilot is, for the site's audit records (issue 25). */
  pilot?: AuditPilot;
}

export type PilotEndReason =
  | 'idle-timeout'
  | 'command-exited'
  | 'signal'
  | 'max-lifetime'
  | 'batch-end'
  | 'ccred-expired'
  | 'credentials-unobtainable'
  | 'validation-failed'
  | 'launch-failed'
  /** A job's container runtime failed before its sandbox existed: a node problem (issue 22). */
  | 'container-runtime-failed'
  /** The credential store could not keep a refresh (issue 26 item 2): ENOSPC/EDQUOT, else any write failure. */
  | 'disk-full'
  | 'store-unwritable'
  /** A periodic VO/factory script failed (issue 24 section 5): retired, ended when its jobs were done. */
  | 'periodic-script-failed'
  /** The refresh family is bound to another pilot's key: a used copy of the bundle (exit 2; issue 26 item 4). */
  | 'bundle-of-another-pilot'
  /** The bundle's refresh_url answered 404: a wrong URL (exit 2). */
  | 'refresh-url-not-found';

export type PilotEvent =
  | { type: 'started'; glideinId: string; entry: string; workdir: string; workdirSource: string; trust: string }
  | { type: 'validation'; outcome: ValidationOutcome }
  | { type: 'refresh'; event: RefresherEvent }
  | { type: 'job-start'; name: string }
  | { type: 'job-end'; name: string; result: SpoolJobResult }
  | { type: 'state'; state: PilotState; reason?: string };

/** A drain request: which signal, and whether it asks for a fast drain (SIGQUIT). */
export interface DrainRequest {
  signal: string;
  fast: boolean;
}

export interface PilotOptions {
  bundlePath: string;
  workdir?: string | undefined;
  /** What runs payloads (--spool, -- COMMAND, --condor). */
  source: PayloadSource;
  failureDelayS: number;
  keepWorkdir: boolean;
  heartbeatIntervalS: number;
  /** SIGTERM → SIGKILL grace for drains. */
  killGraceS: number;
  /** Grace of a fast drain (SIGQUIT). */
  fastKillGraceS?: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Aborted to drain; a DrainRequest as its reason says which signal and how fast. */
  signal: AbortSignal;
  /** Aborted when a fast drain is asked for after a normal one began (SIGQUIT during a drain). */
  fastDrain?: AbortSignal;
  validate: ValidateFn;
  /** Checks the bundle's requirement strings before anything is created (throws exit 2). */
  checkRequirements?: (items: string[], bundlePath: string) => void;
  /** When the batch system will kill this job (agent/pilot/batch-end.ts); none: only the bundle's lifetime. */
  batchEnd?: BatchEnd | undefined;
  /** Remove what dead pilots left under the same work-dir base (default true). */
  cleanStale?: boolean;
  clock?: Clock;
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  minFreeBytes?: number;
  /** Stop taking new jobs this long before the end (bundle lifetime or batch end). */
  retireMarginS?: number;
  /** Bundle credentials with less validity than this are refreshed before anything else (default 30 s). */
  minUsableS?: number;
  onEvent?: (e: PilotEvent) => void;
  /** Whom the entry's scripts run as (issue 24 section 5); default the pilot's own account. */
  scriptAccount?: ScriptAccount;
}

export interface PilotSummary {
  exitCode: number;
  reason: PilotEndReason;
  glideinId: string;
  jobs: JobCounts;
  refreshes: number;
  refreshFailures: number;
  heartbeats: { sent: number; failed: number };
  validation: string;
  workdir: string;
  durationMs: number;
  /** Milliseconds from start until the credentials were valid (null: never). */
  credentialsReadyMs: number | null;
  /** What the payload source reports of its end (--condor: HTCondor's version, the master's exit, the startd's last state). */
  payload?: Record<string, unknown>;
}
