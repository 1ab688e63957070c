// One job's audit records (issue 25): `start` when the payload runs under its identity, `end`
// when the job ends, whatever happened (a job refused before it started gets only the `end`,
// naming the identity it was refused for). The sandbox calls in at four points: the identity
// decided (Job.preflight), the payload started (job-launch.ts), the cgroup about to go
// (job-reap.ts), and the result (start-job.ts).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { JobState } from '../sandbox/job-state.ts';
import type { JobResult } from '../sandbox/result.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { sha256Hex, type AuditRecord, type AuditWhy } from './audit-record.ts';
import { identityFields } from './identity-fields.ts';
import type { JobAuditHooks, JobAuditOptions } from './job-audit-options.ts';
import { AuditSink } from './audit-sink.ts';
import { readCgroupUsage, ticksToMs, type JobUsage } from './job-usage.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class JobAudit implements JobAuditHooks {
  readonly run = randomBytes(8).toString('hex');
  readonly sink: AuditSink;
  readonly #job: JobState;
  readonly #o: JobAuditOptions;
  #startedAt: string | null = null;
  #pid: number | null = null;
  #cgroup: string | null = null;
  #usage: JobUsage = { cpuSeconds: null, peakMemoryBytes: null };

  constructor(job: JobState, o: JobAuditOptions = {}) {
    this.#job = job;
    this.#o = o;
    this.sink = o.sink ?? new AuditSink(job.opts.policy.audit, job.log);
  }

  /** Under `required`, the reason no job may start now (a destination cannot be written), or null. */
  async refusal(): Promise<LaunchError | null> {
    if (!this.sink.policy.required) return null;
    const p = await this.sink.problem();
    return p === null ? null : launchError('audit', 'AUDIT_UNAVAILABLE', `the site policy requires audit records and ${p}`, false);
  }

  /** The payload runs (its session leader is `pid`): the start record. Under `required`, a failure stops the job. */
  async started(pid: number): Promise<void> {
    this.#pid = pid;
    this.#cgroup = this.#job.cgroup?.path ?? null;
    const record = this.#record('start');
    // The end's startedAt is the start record's own time, to the millisecond.
    this.#startedAt = record.time;
    const problems = await this.sink.write(record);
    if (problems.length > 0 && this.sink.policy.required) {
      this.#job.killDetail = 'its site audit record could not be written (the policy requires audit records)';
      this.#job.kill('cancelled');
    }
  }

  /** The job's cgroup is about to be removed: what it used. */
  noteUsage(cgroup: { kind: 'v2' | 'v1-freezer'; path: string } | null): void {
    if (cgroup) this.#usage = readCgroupUsage(cgroup.path, cgroup.kind);
  }

  /** The end record (after the job is reaped and wiped). */
  async ended(r: JobResult): Promise<void> {
    await this.sink.write({
      ...this.#record('end'),
      startedAt: this.#startedAt,
      state: r.state,
      why: this.#why(r),
      exitCode: r.exitCode,
      signal: r.signal,
      reason: r.reason,
      durationMs: r.durationMs,
      ...this.#usage,
    });
  }

  #why(r: JobResult): AuditWhy {
    if (r.state === 'completed' || r.state === 'held') return r.state;
    if (r.state === 'failed') return r.launchError ? 'launch-failed' : 'failed';
    switch (this.#job.killReason) {
      case 'timeout':
        return 'wallclock';
      case 'credential-expired':
        return 'credential-expired';
      case 'pilot-shutdown':
        return 'drain';
      default:
        return this.#o.cancelledMeans ?? 'cancelled';
    }
  }

  #record(event: 'start' | 'end'): AuditRecord {
    const job = this.#job;
    const leader = job.selector?.leaderStart ?? null;
    return {
      v: 1, event, time: new Date().toISOString(), run: this.run, job: job.spec.id, source: this.#o.source ?? 'exec', node: hostname(),
      pilot: this.#o.pilot ?? null,
      ...(this.#o.condor ? { condor: this.#o.condor } : {}),
      ...identityFields(job.spec.identity, job.identity, job.opts.policy.mapfile),
      mode: job.opts.policy.identity,
      account: job.account?.name ?? null,
      uid: job.account?.uid ?? (job.opts.policy.identity === 'none' ? (process.getuid?.() ?? null) : null),
      pid: this.#pid,
      pidStart: leader === null ? null : iso(ticksToMs(leader)),
      cgroup: this.#cgroup ?? job.cgroup?.path ?? null,
      markSha256: sha256Hex(job.jobMark).slice(0, 32),
      executable: job.spec.executable,
      image: job.container?.image ?? null,
    };
  }
}
