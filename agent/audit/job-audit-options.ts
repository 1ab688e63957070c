// What the sandbox's job knows of its audit records (issue 25), apart from how they are made
// (job-audit.ts): the options a caller of startJob passes, and the two calls a launch and a
// reap make. Its own file so that the sandbox's job state can name them without an import circle.
import type { AuditSink } from './audit-sink.ts';
import type { AuditPilot, AuditSource, AuditWhy } from './audit-record.ts';

export interface JobAuditOptions {
  /** The process's sink (a pilot shares one among its jobs); default: one for this job from the policy. */
  sink?: AuditSink;
  pilot?: AuditPilot | null;
  source?: AuditSource;
  /** HTCondor mode: the job's ids in the schedd. */
  condor?: { globalJobId: string | null; clusterProc: string | null };
  /** What a `cancelled` kill means where the job came from (HTCondor: the starter's vacate or remove). */
  cancelledMeans?: AuditWhy;
}

export interface JobAuditHooks {
  /** The payload runs (its session leader is `pid`): the start record. */
  started(pid: number): Promise<void>;
  /** The job's cgroup is about to be removed: what it used. */
  noteUsage(cgroup: { kind: 'v2' | 'v1-freezer'; path: string } | null): void;
}
