// The spool's launcher: every spec goes through exactly the path `glidein exec` uses
// (parseJobSpec, then the sandbox's startJob with the site policy and the pilot's store), with
// the GPUs it asks for taken from the pilot's pool first and given back when the job has ended.
import { parseJobSpec, startJob, type JobResult, type JobSpec, type KillReason, type Policy } from '../sandbox/index.ts';
import { loadCheckedPolicy } from '../sandbox/policy-files.ts';
import type { LaunchContext } from './pilot.ts';
import type { LaunchedJob, LaunchFn } from './spool.ts';
import type { GpuLease } from './gpu-pool.ts';
import { AuditSink } from '../audit/audit-sink.ts';
import type { JobAuditOptions } from '../audit/job-audit-options.ts';
import type { Logger } from '../../shared/log.ts';

/** The site policy: always loaded for a spool (default policy when no file), optional otherwise. */
export async function loadPilotPolicy(path: string | undefined, needed: boolean, log?: Logger): Promise<Policy | undefined> {
  if (path === undefined && !needed) return undefined;
  return loadCheckedPolicy(path, log);
}

function killReason(reason: string): KillReason {
  return reason === 'credential-expired' || reason === 'timeout' || reason === 'cancelled' ? reason : 'pilot-shutdown';
}

/** A job held before it starts: GPUs it can never get here. */
function notStarted(spec: JobSpec, t0: number, r: { state: 'held'; reason: string; code?: string }): LaunchedJob {
  const result: JobResult = {
    id: spec.id, state: r.state, exitCode: null, signal: null, reason: r.reason, uid: null, durationMs: Date.now() - t0,
    launchError: r.code ? { stage: 'gpus', code: r.code, message: r.reason, permanent: true } : null,
  };
  return { result: Promise.resolve(result), kill: () => undefined };
}

/** The GPUs for one job: granted, or the job's end (held: more than the pilot has), or not taken (the pilot stopped taking work while it waited). */
async function gpusFor(spec: JobSpec, ctx: LaunchContext, t0: number): Promise<{ lease: GpuLease | null } | { ended: LaunchedJob | null }> {
  if (!ctx.gpus || (ctx.gpus.size === 0 && spec.gpus === 0)) return { lease: null };
  const got = await ctx.gpus.acquire(spec.gpus, ctx.stopTaking ? AbortSignal.any([ctx.signal, ctx.stopTaking]) : ctx.signal);
  if (got.kind === 'granted') return { lease: got.lease };
  if (got.kind === 'too-many') {
    const reason = `GPUS_UNAVAILABLE: the job asks for ${spec.gpus} GPU${spec.gpus === 1 ? '' : 's'}; this pilot has ${got.have}`;
    ctx.log.warn('job held', { jobId: spec.id, stage: 'gpus', code: 'GPUS_UNAVAILABLE', reason });
    return { ended: notStarted(spec, t0, { state: 'held', reason, code: 'GPUS_UNAVAILABLE' }) };
  }
  return { ended: null };
}

export function makeSandboxLaunch(policy: Policy): (ctx: LaunchContext) => LaunchFn {
  return (ctx) => {
    // One sink for the pilot's jobs: the site's records and how they fared (issue 25).
    const audit = { sink: new AuditSink(policy.audit, ctx.log), pilot: ctx.pilot ?? null, source: 'spool' as const };
    return launcher(policy, ctx, audit);
  };
}

function launcher(policy: Policy, ctx: LaunchContext, audit: JobAuditOptions): LaunchFn {
  return async (value, where) => {
    const spec = parseJobSpec(value, where);
    const t0 = Date.now();
    const gpus = await gpusFor(spec, ctx, t0);
    if ('ended' in gpus) return gpus.ended;
    const lease = gpus.lease;
    if (lease && lease.devices.length > 0) ctx.log.info('GPUs assigned', { jobId: spec.id, gpus: lease.devices });
    let handle;
    try {
      handle = startJob(spec, { policy, store: ctx.store, log: ctx.log, signal: ctx.signal, agentEnv: ctx.env, audit, ...(ctx.container ? { container: ctx.container } : {}), ...(lease ? { gpus: lease.devices } : {}) });
    } catch (e) {
      lease?.release();
      throw e;
    }
    // The job's result comes after every process of it is gone (job.ts): only then are its GPUs free.
    const result = lease ? handle.result.finally(() => lease.release()) : handle.result;
    return { result, kill: (reason) => handle.kill(killReason(reason)) };
  };
}
