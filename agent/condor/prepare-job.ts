// glidein's prepare-job hook (issue 14, item 4: "a way to really hold the job"). HTCondor's
// starter runs `<keyword>_HOOK_PREPARE_JOB` after the input files are transferred and before
// the job (and so before USER_JOB_WRAPPER), with the job ad on stdin. If the hook prints
// `HookStatusCode` 1–299 the starter puts the job on Hold (HoldReasonCode 19,
// HookPrepareJobFailure; the subcode is ours) with `HookStatusMessage` in the hold reason
// (StarterHookMgr.cpp, HTCONDOR-1411); 0 lets the job go on. So an identity this node will never
// accept (no token, unverifiable, unmapped, no such account) holds the job with the reason,
// instead of failing the attempt and sending it back to Idle. Everything else (the launch itself,
// transient failures) stays with the job wrapper.
import type { Logger } from '../../shared/log.ts';
import { loadPolicy, type Policy } from '../sandbox/index.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { DEFAULT_CONTAINER_ENTRY } from '../../shared/container-entry.ts';
import { findContainerRuntime } from '../sandbox/container-find.ts';
import { planContainer } from '../sandbox/container-plan.ts';
import { adHas, jobEnvironment } from './condor-env-syntax.ts';
import { jobAdContainer } from './job-ad-container.ts';
import { environmentUpdate, readFactsKey, sealFacts, type JobFacts } from './job-env.ts';
import { identifyJob } from './job-token.ts';
import { auditCondorRefusal } from '../audit/condor-audit.ts';
import { jobKey, parseJobAd, writeWrapperEvent, type WrapperConfig } from './wrapper-config.ts';

/** HoldReasonSubCode of a job held here: its identity will never be accepted on this node. */
export const HOLD_SUBCODE_IDENTITY = 1;
/** HoldReasonSubCode: the site policy cannot be loaded (the pilot is misconfigured). */
export const HOLD_SUBCODE_POLICY = 2;
/** HoldReasonSubCode: the job's Environment cannot be parsed (HTCondor could not start it either). */
export const HOLD_SUBCODE_ENVIRONMENT = 3;
/** HoldReasonSubCode: the job's container (image, binds) breaks a rule of the entry or the site policy. */
export const HOLD_SUBCODE_CONTAINER = 4;

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

/** The facts of the job, from the ad the starter gave the hook and the starter's own environment. */
function jobFacts(run: PrepareRun): JobFacts | LaunchError {
  const ad = parseJobAd(run.adText);
  let env: Record<string, string>;
  try {
    env = jobEnvironment(run.adText);
  } catch (e) {
    return launchError('wrapper', 'BAD_SPEC', `the job's Environment cannot be parsed: ${(e as Error).message}`, true);
  }
  const image = jobAdContainer(run.adText);
  if ('unsupported' in image) return launchError('container', 'IMAGE_FORMAT', image.unsupported, true);
  return { v: 1, env, container: image.container, oauth: adHas(run.adText, 'OAuthServicesNeeded'), scratchDir: run.env['_CONDOR_SCRATCH_DIR'] ?? '', ...ad };
}

/** The container decision the wrapper's sandbox will make (container-plan.ts): a refusal, or null. */
function containerRefusal(run: PrepareRun, facts: JobFacts, policy: Policy): LaunchError | null {
  const plan = planContainer({
    job: facts.container ? { image: facts.container.image, binds: [] } : null,
    entry: run.config.container ?? DEFAULT_CONTAINER_ENTRY, policy: policy.containers, workdir: facts.scratchDir || null,
    alwaysForbidden: [run.config.storeParent], findRuntime: () => findContainerRuntime(policy.containers.runtime, run.env),
  });
  return plan.kind === 'held' ? plan.error : null;
}

/** The job's identity, checked as the wrapper will check it; a permanent refusal, or null to go on. */
async function identityRefusal(facts: JobFacts, policy: Policy): Promise<LaunchError | null> {
  const who = await identifyJob({ scratchDir: facts.scratchDir, oauth: facts.oauth, fileName: policy.condorTokenFile }, policy);
  return 'stage' in who && who.permanent ? who : null;
}

/** A held job's record for the site (issue 25), written before the hook answers. */
type Audited = { policy: Policy; facts: JobFacts | null; pending: Promise<void>[] };

function hold(run: PrepareRun, subcode: number, refusal: LaunchError, audited?: Audited): string {
  const ad = parseJobAd(run.adText);
  const key = jobKey(ad, `hook-${process.pid}`);
  if (audited) {
    const f = audited.facts;
    const tokens = f ? { scratchDir: f.scratchDir, oauth: f.oauth, fileName: audited.policy.condorTokenFile } : null;
    audited.pending.push(auditCondorRefusal({ policy: audited.policy, log: run.log, job: key, ad, pilot: run.config.pilot ?? null, tokens, error: refusal, executable: null }));
  }
  // Held, the job cannot come back; its submitter's other jobs may carry tokens that map, so
  // only the job is refused here (the wrapper refuses the submitter too: its refusals are not holds).
  writeWrapperEvent(run.config, key, { event: 'end', state: 'held', reason: `${refusal.code}: ${refusal.message}`, refuse: { job: ad.globalJobId, user: null } });
  run.log.warn('HTCondor job held by the prepare-job hook', { job: ad.globalJobId, code: refusal.code, reason: refusal.message });
  return holdOutput(subcode, refusal);
}

/**
 * Run the hook; returns what it prints on stdout: a hold, or the update ad that replaces the
 * job's environment with its sealed facts (job-env.ts), so that nothing of the job's
 * environment reaches the wrapper, which runs as the pilot.
 */
export async function prepareCondorJob(run: PrepareRun): Promise<string> {
  const pending: Promise<void>[] = [];
  const out = await prepareOnce(run, pending);
  await Promise.all(pending);
  return out;
}

async function prepareOnce(run: PrepareRun, pending: Promise<void>[]): Promise<string> {
  const ad = parseJobAd(run.adText);
  let policy: Policy;
  let key: Buffer;
  try {
    policy = await loadPolicy(run.config.policy ?? undefined);
    key = readFactsKey(run.config.factsKey);
  } catch (e) {
    run.log.error('prepare-job: the site policy or the wrapper key cannot be loaded', { job: ad.globalJobId, error: e });
    return holdOutput(HOLD_SUBCODE_POLICY, { stage: 'wrapper', code: 'BAD_SPEC', message: `the pilot's configuration cannot be loaded: ${(e as Error).message}`, permanent: true });
  }
  const facts = jobFacts(run);
  if ('stage' in facts) return hold(run, facts.stage === 'container' ? HOLD_SUBCODE_CONTAINER : HOLD_SUBCODE_ENVIRONMENT, facts, { policy, facts: null, pending });
  const audited: Audited = { policy, facts, pending };
  const container = containerRefusal(run, facts, policy);
  if (container) return hold(run, HOLD_SUBCODE_CONTAINER, container, audited);
  if (policy.identity !== 'none') {
    const refusal = await identityRefusal(facts, policy);
    if (refusal !== null) return hold(run, HOLD_SUBCODE_IDENTITY, refusal, audited);
  }
  return environmentUpdate(sealFacts(facts, key));
}
