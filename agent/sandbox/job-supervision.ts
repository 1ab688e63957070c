// Supervising a running job (DESIGN.md section 7): its credentials' expiry (a timer re-armed
// whenever a fresher credential arrives), its wallclock limit, and credential updates. A timer
// that fires stops the job through its kill().
import { isJwtType, type Credential } from '../../shared/credential.ts';
import { unverifiedSubject } from './identity.ts';
import type { JobState, UpdateResult } from './job-state.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Unix ms at which the job must be stopped for its credentials, or null. */
export function credentialDeadline(job: JobState): { at: number; purpose: string } | null {
  let best: { at: number; purpose: string } | null = null;
  for (const c of job.credentials) {
    if (c.expiresAt === null) continue;
    const at = (c.expiresAt - job.opts.policy.credentialGraceSeconds) * 1000;
    if (!best || at < best.at) best = { at, purpose: c.purpose };
  }
  return best;
}

export function armExpiryTimer(job: JobState): void {
  if (job.expiryTimer) clearTimeout(job.expiryTimer);
  job.expiryTimer = null;
  const d = credentialDeadline(job);
  if (!d || job.ended) return;
  const ms = d.at - Date.now();
  job.expiryTimer = setTimeout(() => {
    if (Date.now() < d.at) return armExpiryTimer(job);
    job.killDetail = `credential '${d.purpose}' expires within the policy's ${job.opts.policy.credentialGraceSeconds} s grace`;
    job.kill('credential-expired');
  }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  job.expiryTimer.unref?.();
}

/** Once the payload has started: stop it when the spec's wallclock limit (if any) is reached. */
export function armWallclockTimer(job: JobState): void {
  if (job.spec.limits.wallclockSeconds === null) return;
  const t = setTimeout(() => {
    job.killDetail = `wallclock limit of ${job.spec.limits.wallclockSeconds} s reached`;
    job.kill('timeout');
  }, job.spec.limits.wallclockSeconds * 1000);
  job.timers.push(t);
}

/** The job has ended: no timer of it fires any more. */
export function clearTimers(job: JobState): void {
  for (const t of job.timers) clearTimeout(t);
  if (job.expiryTimer) clearTimeout(job.expiryTimer);
}

/** Hand the job a fresher credential (same purpose, type and iss,sub); written in the background. */
export function updateJobCredential(job: JobState, cred: Credential): UpdateResult {
  if (job.ended) return { ok: false, reason: 'the job has ended' };
  const idx = job.credentials.findIndex((c) => c.purpose === cred.purpose);
  const old = job.credentials[idx];
  if (!old) return { ok: false, reason: `the job carries no credential with purpose '${cred.purpose}'` };
  if (old.type !== cred.type) return { ok: false, reason: `the job's '${cred.purpose}' credential is a ${old.type}, not a ${cred.type}` };
  if (isJwtType(cred.type)) {
    const a = unverifiedSubject(old.token);
    const b = unverifiedSubject(cred.token);
    if (!a || !b || a.iss !== b.iss || a.sub !== b.sub) {
      job.log.security('credential update with a different identity refused', { purpose: cred.purpose });
      return { ok: false, reason: `the new '${cred.purpose}' credential names a different identity (iss,sub); refused` };
    }
  }
  if (old.expiresAt !== null && (cred.expiresAt === null || cred.expiresAt <= old.expiresAt)) {
    return { ok: false, reason: `the new '${cred.purpose}' credential is not fresher than the current one` };
  }
  if (!job.agentWritesCredentials) {
    return { ok: false, reason: 'in helper mode without root the agent cannot rewrite the job\'s credential files' };
  }
  job.credentials[idx] = cred;
  if (job.credentialsWritten) {
    const owner = job.owner();
    job.writeChain = job.writeChain
      .then(() => job.opts.store.writeJobCredential(job.spec.id, cred.purpose, cred.token, cred.expiresAt, owner))
      .catch((e: unknown) => job.log.error('cannot write the updated job credential', { purpose: cred.purpose, error: e }));
  }
  armExpiryTimer(job);
  job.log.info('job credential updated', { purpose: cred.purpose, expiresAt: cred.expiresAt });
  return { ok: true };
}
