// The site's records of HTCondor jobs (issue 25). A job the wrapper runs through the sandbox is
// recorded there (start and end), with its schedd ids, the pilot, and the starter's vacate or
// remove as `vacate`. A job that glidein turned away before it ran: held
// by the prepare-job hook, or refused by the job wrapper (no token, unverifiable, unmapped, no
// such account, a container rule). It names the identity the job's token carries, looked up
// again here from the starter's facts (verified and mapped when it can be), so the site sees who
// was refused; never the token.
import { hostname } from 'node:os';
import type { Logger } from '../../shared/log.ts';
import { resolveIdentity, type IdentityOutcome } from '../sandbox/identity.ts';
import type { Policy } from '../sandbox/policy.ts';
import type { LaunchError } from '../sandbox/launch-error.ts';
import { findJobToken, type TokenSource } from '../condor/job-token.ts';
import type { JobAdFacts } from '../condor/wrapper-config.ts';
import { randomBytes } from 'node:crypto';
import { AuditSink } from './audit-sink.ts';
import { identityFields } from './identity-fields.ts';
import type { AuditPilot } from './audit-record.ts';
import type { JobAuditOptions } from './job-audit-options.ts';

const clusterProc = (ad: JobAdFacts) => (ad.clusterId === null ? null : `${ad.clusterId}.${ad.procId ?? 'x'}`);

/** What the job wrapper tells the sandbox for the job's records. */
export function condorAuditOptions(ad: JobAdFacts, pilot: AuditPilot | null | undefined): JobAuditOptions {
  return { source: 'condor', pilot: pilot ?? null, condor: { globalJobId: ad.globalJobId, clusterProc: clusterProc(ad) }, cancelledMeans: 'vacate' };
}

export interface CondorRefusal {
  policy: Policy;
  log: Logger;
  /** The wrapper's job key (condor-<cluster>.<proc>-<tag>). */
  job: string;
  ad: JobAdFacts;
  pilot: AuditPilot | null;
  /** Where the job's token is (the starter's facts); null: not known (no trusted facts). */
  tokens: TokenSource | null;
  error: LaunchError;
  executable: string | null;
}

async function identityOf(tokens: TokenSource | null, policy: Policy): Promise<{ token: string | null; who: IdentityOutcome | null }> {
  if (!tokens) return { token: null, who: null };
  const found = findJobToken(tokens);
  if ('stage' in found) return { token: null, who: null };
  const who = await resolveIdentity(found.token, policy).catch(() => null);
  return { token: found.token, who };
}

/** Write the refused job's end record where the policy says (nothing when it names no destination). */
export async function auditCondorRefusal(r: CondorRefusal): Promise<void> {
  const sink = new AuditSink(r.policy.audit, r.log);
  if (!sink.enabled) return;
  const { token, who } = await identityOf(r.tokens, r.policy);
  const account = who?.ok ? who.account : null;
  const now = new Date().toISOString();
  await sink.write({
    v: 1, event: 'end', time: now, run: randomBytes(8).toString('hex'), job: r.job, source: 'condor', node: hostname(), pilot: r.pilot,
    condor: { globalJobId: r.ad.globalJobId, clusterProc: clusterProc(r.ad) },
    ...identityFields(token, who, r.policy.mapfile),
    mode: r.policy.identity, account: account?.name ?? null, uid: account?.uid ?? null, pid: null, pidStart: null, cgroup: null, markSha256: null,
    executable: r.executable, image: null, startedAt: null, state: r.error.permanent ? 'held' : 'failed', why: r.error.permanent ? 'held' : 'launch-failed',
    exitCode: null, signal: null, reason: `${r.error.code}: ${r.error.message}`, durationMs: 0, cpuSeconds: null, peakMemoryBytes: null,
  });
}
