// glidein's USER_JOB_WRAPPER (issue 14, item 4). HTCondor's starter runs it as
// `wrapper JOB_EXECUTABLE ARG...` with the job's environment. With an identity policy it takes
// the job's identity token (job-token.ts), verifies and maps it exactly as `glidein exec` does
// (parseJobSpec + startJob), hands the scratch dir to the mapped account and runs the job
// through the sandbox with the token as its J-CRED (BEARER_TOKEN_FILE). Signals from the
// starter (vacate, remove) are forwarded to the switched job through the sandbox's kill path
// (the helper when the pilot is not root). A launch error is written to
// _CONDOR_WRAPPER_ERROR_FILE (the starter fails the attempt with that text); a permanent one is
// also recorded for the agent, which makes this slot refuse the job and its submitter from then
// on (START), so it matches elsewhere and not here again. Without an identity policy the job
// is exec'd as it is, as the pilot.
//
// Issue 21: the wrapper runs as the pilot, so nothing the job controls may reach it. The job's
// environment arrives sealed by the prepare-job hook (job-env.ts) and is given back only to the
// switched job; the token is found only from the starter's facts (job-token.ts); and before the
// wrapper exits (the starter then transfers the output as the pilot) the account's access is
// taken back and every link the job left is removed (scratch-scrub.ts).
import { mkdtempSync, readlinkSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { CredStore } from '../store/index.ts';
import { loadPolicy, parseJobSpec, startJob, type JobResult, type Policy } from '../sandbox/index.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { JOB_FACTS_VARIABLE, openFacts, readFactsKey, type JobFacts } from './job-env.ts';
import { identifyJob } from './job-token.ts';
import { revokeScratchDir, shareScratchDir, type ShareTarget } from './sandbox-share.ts';
import { scrubScratchDir } from './scratch-scrub.ts';
import { auditCondorRefusal, condorAuditOptions } from '../audit/condor-audit.ts';
import { jobKey, readJobAd, writeWrapperEvent, type JobAdFacts, type WrapperConfig } from './wrapper-config.ts';

/** Variables the switched job does not get (DESIGN.md 7.3 and the wrapper's own). */
const DROP_FROM_JOB = new Set(['_CONDOR_WRAPPER_ERROR_FILE', '_CONDOR_CREDS', JOB_FACTS_VARIABLE, 'LD_PRELOAD', 'LD_AUDIT', 'BEARER_TOKEN_FILE', 'BEARER_TOKEN']);
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];

export interface WrapperRun {
  argv: string[];
  env: NodeJS.ProcessEnv;
  config: WrapperConfig;
  log: Logger;
}

/** A regular file behind one of our descriptors (the starter's _condor_stdout …), or null. */
function fdPath(fd: number): string | null {
  try {
    const p = readlinkSync(`/proc/self/fd/${fd}`);
    return p.startsWith('/') && !p.endsWith(' (deleted)') && !p.startsWith('/dev/') ? p : null;
  } catch {
    return null;
  }
}

/**
 * The switched job's environment: its own (from the hook's facts), then the starter's variables
 * over it (HTCondor merges PublishToEnv last), less DROP_FROM_JOB.
 */
export function jobEnv(facts: JobFacts, starterEnv: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of [...Object.entries(facts.env), ...Object.entries(starterEnv)]) {
    if (v !== undefined && !DROP_FROM_JOB.has(k) && /^[A-Za-z_][A-Za-z0-9_]{0,255}$/.test(k) && !v.includes('\0')) out[k] = v;
  }
  return out;
}

/** Write the reason where the starter reads it; it fails the attempt with this text. */
export function reportLaunchError(env: NodeJS.ProcessEnv, e: LaunchError): void {
  const file = env['_CONDOR_WRAPPER_ERROR_FILE'];
  if (!file) return;
  writeFileSync(file, `glidein: ${e.code}: ${e.message}${e.permanent ? ' (permanent: this glidein will not run this job or this submitter again)' : ''}\n`, { mode: 0o644 });
}

function exitCode(r: JobResult): number {
  if (r.state === 'completed') return 0;
  if (r.exitCode !== null) return r.exitCode;
  return r.state === 'killed' ? 143 : 1;
}

async function runSwitched(w: WrapperRun, policy: Policy, facts: JobFacts, key: string, ran: { job: boolean }): Promise<JobResult | LaunchError> {
  const who = await identifyJob({ scratchDir: facts.scratchDir, oauth: facts.oauth, fileName: policy.condorTokenFile }, policy);
  if ('stage' in who) return who;
  const cwd = process.cwd();
  const share: ShareTarget | null = who.account ? { dir: facts.scratchDir, account: who.account } : null;
  if (share) {
    const shared = await shareScratchDir(share);
    if (!shared.ok) return shared.error;
  }
  const exe = w.argv[0]!;
  const spec = parseJobSpec(
    {
      id: key,
      executable: isAbsolute(exe) ? exe : resolve(cwd, exe),
      args: w.argv.slice(1),
      env: jobEnv(facts, w.env),
      cwd,
      stdin: fdPath(0),
      stdout: fdPath(1),
      stderr: fdPath(2),
      identity: who.token,
      credentials: [{ purpose: 'payload', type: 'scitoken', token: who.token }],
      ...(facts.container ? { container: facts.container } : {}),
    },
    `HTCondor job ${key}`,
  );
  const storeDir = mkdtempSync(join(w.config.storeParent, `${key}-`));
  chmodSync(storeDir, 0o711);
  const store = await CredStore.open(storeDir, { log: w.log });
  let result: JobResult;
  try {
    // The slot's GPUs as the starter assigned them: their nodes go into a container; the variables stay HTCondor's.
    const assigned = (w.env['_CONDOR_AssignedGPUs'] ?? '').split(',').map((s) => s.trim()).filter((s) => /^(GPU|MIG)-[A-Za-z0-9-]+$/.test(s));
    const gpus = assigned.length ? { gpus: assigned, keepGpuEnv: true } : {};
    ran.job = true;
    const handle = startJob(spec, { policy, store, log: w.log, agentEnv: w.env, ...gpus, audit: condorAuditOptions(facts, w.config.pilot), ...(w.config.container ? { container: w.config.container } : {}) });
    const forward = () => handle.kill('cancelled');
    for (const s of FORWARDED) process.on(s, forward);
    try {
      result = await handle.result;
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  } finally {
    await store.wipeAll().catch(() => undefined);
    rmSync(storeDir, { recursive: true, force: true });
  }
  return share ? afterJob(w, share, result) : result;
}

/** The job has ended: take the scratch dir back and remove what could lead the transfer outside it. */
async function afterJob(w: WrapperRun, share: ShareTarget, result: JobResult): Promise<JobResult | LaunchError> {
  const revoked = await revokeScratchDir(share);
  const scrub = scrubScratchDir(share.dir, share.account.uid);
  if (scrub.removed.length > 0) w.log.warn('removed what the job left in its scratch dir that could lead output transfer outside it', { dir: share.dir, removed: scrub.removed.slice(0, 20), count: scrub.removed.length });
  const problems = [...(revoked ? [`cannot take the scratch dir back from ${share.account.name}: ${revoked}`] : []), ...scrub.problems];
  if (problems.length === 0) return result;
  // The output must not go home unchecked: fail the attempt (the job's submitter is not at fault).
  return launchError('wrapper', 'SCRATCH_UNSAFE', `the job's scratch dir cannot be made safe for output transfer: ${problems.slice(0, 3).join('; ')}`, false);
}

/** The hook's facts for this job, or a launch error: without them the job's environment may have reached us. */
function trustedFacts(w: WrapperRun): JobFacts | LaunchError {
  let key: Buffer;
  try {
    key = readFactsKey(w.config.factsKey);
  } catch (e) {
    return launchError('wrapper', 'BAD_SPEC', (e as Error).message, false);
  }
  const facts = openFacts(w.env[JOB_FACTS_VARIABLE], key);
  if (facts === null) return launchError('wrapper', 'NO_HOOK', `the prepare-job hook did not vouch for this job (no ${JOB_FACTS_VARIABLE} sealed by this pilot): STARTER_JOB_HOOK_KEYWORD and GLIDEIN_HOOK_PREPARE_JOB must name glidein's hook`, false);
  if (facts.scratchDir !== w.env['_CONDOR_SCRATCH_DIR']) return launchError('wrapper', 'NO_HOOK', `the prepare-job hook's facts are for the scratch dir ${facts.scratchDir}, not this job's ${w.env['_CONDOR_SCRATCH_DIR'] ?? '(unset)'}`, false);
  return facts;
}

/** Run one HTCondor job; returns the wrapper's exit code (the job's, or 1 after a launch error). */
export async function runCondorJob(w: WrapperRun): Promise<number> {
  const refusals: Promise<void>[] = [];
  const code = await runCondorJobOnce(w, refusals);
  await Promise.all(refusals);
  return code;
}

async function runCondorJobOnce(w: WrapperRun, refusals: Promise<void>[]): Promise<number> {
  const facts = trustedFacts(w);
  // The sandbox records a job it ran; one turned away before gets its record here (issue 25).
  const ran = { job: false };
  let policy: Policy | undefined;
  // The job ad's facts from the hook when it ran; else the starter's file, for the record only.
  const ad: JobAdFacts = 'stage' in facts ? readJobAd(w.env['_CONDOR_JOB_AD']) : facts;
  const key = jobKey(ad, String(process.pid));
  const fail = (e: LaunchError): number => {
    reportLaunchError(w.env, e);
    writeWrapperEvent(w.config, key, { event: 'end', state: 'held', reason: `${e.code}: ${e.message}`, ...(e.permanent ? { refuse: { job: ad.globalJobId, user: e.stage === 'identity' ? ad.user : null } } : {}) });
    w.log.warn('HTCondor job not started', { job: ad.globalJobId, code: e.code, reason: e.message, permanent: e.permanent });
    const tokens = 'stage' in facts || !policy ? null : { scratchDir: facts.scratchDir, oauth: facts.oauth, fileName: policy.condorTokenFile };
    if (policy && !ran.job) refusals.push(auditCondorRefusal({ policy, log: w.log, job: key, ad, pilot: w.config.pilot ?? null, tokens, error: e, executable: w.argv[0] ?? null }));
    return 1;
  };
  if (w.argv.length === 0) return fail(launchError('wrapper', 'BAD_SPEC', 'the starter gave the job wrapper no job command', true));
  try {
    policy = await loadPolicy(w.config.policy ?? undefined);
  } catch (e) {
    return fail(launchError('wrapper', 'BAD_SPEC', `the site policy cannot be loaded: ${(e as Error).message}`, false));
  }
  writeWrapperEvent(w.config, key, { event: 'start' });
  if (policy.identity === 'none') {
    // No identity switching configured: the job runs as the pilot (the agent logged this once),
    // with its own environment when the hook carried it here.
    const env = 'stage' in facts ? w.env : { ...facts.env, ...withoutFacts(w.env) };
    try {
      process.execve!(w.argv[0]!, w.argv, env as Record<string, string>);
    } catch (e) {
      return fail(launchError('exec', (e as NodeJS.ErrnoException).code ?? 'EIO', `cannot exec ${w.argv[0]}: ${(e as Error).message}`));
    }
  }
  if ('stage' in facts) return fail(facts);
  let r: JobResult | LaunchError;
  try {
    r = await runSwitched(w, policy, facts, key, ran);
  } catch (e) {
    // An error of ours, not the job's: the attempt fails, the job and its submitter stay welcome.
    r = launchError('wrapper', 'INTERNAL', (e as Error).message, false);
  }
  if ('stage' in r) return fail(r);
  if (r.launchError && r.state !== 'completed') return fail(r.launchError);
  writeWrapperEvent(w.config, key, { event: 'end', state: r.state, reason: r.reason });
  return exitCode(r);
}

function withoutFacts(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [JOB_FACTS_VARIABLE]: _facts, ...rest } = env;
  return rest;
}
