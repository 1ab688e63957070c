// What runs payloads for the pilot (DESIGN.md section 10): `--spool DIR`, `-- COMMAND` and
// `--condor` are implementations of this one interface. runPilot only wires the parts
// (refresher, status reporter, payload source, supervisor); a source never ends the pilot
// itself, it resolves `done` and the supervisor decides.
import type { Logger } from '../../shared/log.ts';
import type { ContainerEntry } from '../../shared/container-entry.ts';
import type { AuditPilot } from '../audit/audit-record.ts';
import type { CredStore } from '../store/index.ts';
import type { Credential } from '../../shared/credential.ts';
import type { Clock } from './clock.ts';
import type { JobCounts } from './status-client.ts';
import type { SpoolJobResult } from './spool.ts';
import type { ValidationReport } from './validation.ts';

/** Why a source's work is being stopped (the sandbox's kill reasons). */
export type PayloadStopReason = 'pilot-shutdown' | 'credential-expired' | 'max-lifetime' | 'batch-end';

/** How a source ended on its own (the supervisor maps it to the pilot's end reason and exit code). */
export type PayloadEnd =
  | { kind: 'idle-timeout' }
  | { kind: 'retired-and-empty' }
  | { kind: 'command-exited'; exitCode: number | null }
  | { kind: 'launch-failed'; error: string };

export interface PayloadContext {
  /** The pilot's private work dir (payload cwd, _CONDOR_SCRATCH_DIR). */
  workdir: string;
  /** The pilot's environment (a source filters it for payloads). */
  env: NodeJS.ProcessEnv;
  store: CredStore;
  log: Logger;
  clock: Clock;
  /** The node validation report (usable cores, attributes for a startd). */
  validation: ValidationReport;
  /** The credentials in use now (the refresher's view; files in the store are refreshed in place). */
  credentials(): Credential[];
  /** Aborted when the pilot drains: launches in flight give up. */
  signal: AbortSignal;
  /** Job events for the pilot's listener (the demo prints them). */
  onJobStart(name: string): void;
  /** The bundle's container entry (issue 22): mode and default image; absent: optional, none. */
  container?: ContainerEntry;
  /** Who this pilot is, for the site's audit records (issue 25): glidein id, entry, factory, batch job. */
  pilot?: AuditPilot;
  onJobEnd(name: string, result: SpoolJobResult): void;
}

export interface PayloadSource {
  /** 'spool', 'command' or 'condor': for logs and the summary. */
  readonly kind: string;
  /** Resolves once, when the source has ended on its own; never rejects. */
  readonly done: Promise<PayloadEnd>;
  /** Start taking work. Credentials are valid and the node validated when this is called. */
  start(ctx: PayloadContext): Promise<void>;
  /** Optional: while a pilot whose validation failed stays (anti-black-hole), advertise the node
   * without taking work (`--condor`: a startd with START = False and the failure as attributes). */
  startDrained?(ctx: PayloadContext): Promise<void>;
  /** Take no new work (retire); what runs continues. Idempotent. */
  retire(): void;
  /** Stop everything that runs: SIGTERM, then SIGKILL after graceS. Resolves when nothing of it is left. */
  stop(reason: PayloadStopReason, graceS: number): Promise<void>;
  /** Optional: the source's own end facts for the pilot's summary. */
  summary?(): Record<string, unknown>;
  /** Job counts so far (started, completed, failed, held, killed, running). */
  counts(): JobCounts;
}

export function emptyCounts(): JobCounts {
  return { started: 0, completed: 0, failed: 0, held: 0, killed: 0, running: 0 };
}
