// glidein's prepare-job hook (issue 14, item 4: "a way to really hold the job"). HTCondor's
// starter runs `<keyword>_HOOK_PREPARE_JOB` after the input files are transferred and before
// the job (and so before USER_JOB_WRAPPER), with the job ad on stdin. If the hook prints
// `HookStatusCode` 1–299 the starter puts the job on Hold (HoldReasonCode 19,
// HookPrepareJobFailure; the subcode is ours) with `HookStatusMessage` in the hold reason
// (StarterHookMgr.cpp, HTCONDOR-1411); 0 lets the job go on. So an identity this node will never
// accept (no token, unverifiable, unmapped, no such account) holds the job with the reason,
// instead of failing the attempt and sending it back to Idle. Everything else (the launch itself,
// transient failures) stays with the job wrapper.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { loadPolicy, type Policy } from '../sandbox/index.ts';
import type { LaunchError } from '../sandbox/launch-error.ts';
import { identifyJob } from './job-token.ts';
import { jobKey, parseJobAd, writeWrapperEvent, type WrapperConfig } from './wrapper-config.ts';

/** HoldReasonSubCode of a job held here: its identity will never be accepted on this node. */
export const HOLD_SUBCODE_IDENTITY = 1;
/** HoldReasonSubCode: the site policy cannot be loaded (the pilot is misconfigured). */
export const HOLD_SUBCODE_POLICY = 2;

export interface PrepareRun {
  /** The job ad the starter wrote on the hook's stdin. */
  adText: string;
  env: NodeJS.ProcessEnv;
  config: WrapperConfig;
  log: Logger;
}

/** A ClassAd string literal. */
function classAdString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n\0]/g, ' ')}"`;
}

/** What the hook prints to hold the job (an update ad). */
export function holdOutput(subcode: number, e: LaunchError): string {
  return `HookStatusCode = ${subcode}\nHookStatusMessage = ${classAdString(`glidein: ${e.code}: ${e.message}`)}\n`;
}

/** The job's identity, checked as the wrapper will check it; a permanent refusal, or null to go on. */
async function identityRefusal(run: PrepareRun, policy: Policy): Promise<LaunchError | null> {
  const iwd = run.env['_CONDOR_JOB_IWD'] ?? run.env['_CONDOR_SCRATCH_DIR'];
  // The starter makes the per-job credential dir before the transfer; the hook's env lacks _CONDOR_CREDS.
  const creds = run.env['_CONDOR_CREDS'] ?? (iwd && existsSync(join(iwd, '.condor_creds')) ? join(iwd, '.condor_creds') : undefined);
  const who = await identifyJob({ credsDir: creds, scratchDir: iwd, fileName: policy.condorTokenFile }, policy);
  return 'stage' in who && who.permanent ? who : null;
}

/** Run the hook; returns what it prints on stdout (empty: the job goes on). */
export async function prepareCondorJob(run: PrepareRun): Promise<string> {
  const ad = parseJobAd(run.adText);
  let policy: Policy;
  try {
    policy = await loadPolicy(run.config.policy ?? undefined);
  } catch (e) {
    run.log.error('prepare-job: the site policy cannot be loaded', { job: ad.globalJobId, error: e });
    return holdOutput(HOLD_SUBCODE_POLICY, { stage: 'wrapper', code: 'BAD_SPEC', message: `the site policy cannot be loaded: ${(e as Error).message}`, permanent: true });
  }
  if (policy.identity === 'none') return '';
  const refusal = await identityRefusal(run, policy);
  if (refusal === null) return '';
  const key = jobKey(ad, `hook-${process.pid}`);
  // Held, the job cannot come back; its submitter's other jobs may carry tokens that map, so
  // only the job is refused here (the wrapper refuses the submitter too: its refusals are not holds).
  writeWrapperEvent(run.config, key, { event: 'end', state: 'held', reason: `${refusal.code}: ${refusal.message}`, refuse: { job: ad.globalJobId, user: null } });
  run.log.warn('HTCondor job held by the prepare-job hook', { job: ad.globalJobId, code: refusal.code, reason: refusal.message });
  return holdOutput(HOLD_SUBCODE_IDENTITY, refusal);
}
