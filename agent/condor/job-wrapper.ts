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
import { mkdtempSync, readlinkSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { CredStore } from '../store/index.ts';
import { loadPolicy, parseJobSpec, startJob, type JobResult, type Policy } from '../sandbox/index.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { identifyJob } from './job-token.ts';
import { shareScratchDir } from './sandbox-share.ts';
import { jobKey, readJobAd, writeWrapperEvent, type WrapperConfig } from './wrapper-config.ts';

/** Variables of the starter's environment the switched job does not get. */
const DROP_FROM_JOB = new Set(['_CONDOR_WRAPPER_ERROR_FILE', '_CONDOR_CREDS', 'LD_PRELOAD', 'LD_AUDIT', 'BEARER_TOKEN_FILE', 'BEARER_TOKEN']);
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

function jobEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
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

async function runSwitched(w: WrapperRun, policy: Policy, key: string): Promise<JobResult | LaunchError> {
  const env = w.env;
  const who = await identifyJob({ credsDir: env['_CONDOR_CREDS'], scratchDir: env['_CONDOR_SCRATCH_DIR'], fileName: policy.condorTokenFile }, policy);
  if ('stage' in who) return who;
  const cwd = process.cwd();
  if (who.account) {
    const shared = await shareScratchDir({ dir: cwd, account: who.account });
    if (!shared.ok) return shared.error;
  }
  const exe = w.argv[0]!;
  const spec = parseJobSpec(
    {
      id: key,
      executable: isAbsolute(exe) ? exe : resolve(cwd, exe),
      args: w.argv.slice(1),
      env: jobEnv(env),
      cwd,
      stdin: fdPath(0),
      stdout: fdPath(1),
      stderr: fdPath(2),
      identity: who.token,
      credentials: [{ purpose: 'payload', type: 'scitoken', token: who.token }],
    },
    `HTCondor job ${key}`,
  );
  const storeDir = mkdtempSync(join(w.config.storeParent, `${key}-`));
  chmodSync(storeDir, 0o711);
  const store = await CredStore.open(storeDir, { log: w.log });
  try {
    const handle = startJob(spec, { policy, store, log: w.log, agentEnv: env });
    const forward = () => handle.kill('cancelled');
    for (const s of FORWARDED) process.on(s, forward);
    try {
      return await handle.result;
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  } finally {
    await store.wipeAll().catch(() => undefined);
    rmSync(storeDir, { recursive: true, force: true });
  }
}

/** Run one HTCondor job; returns the wrapper's exit code (the job's, or 1 after a launch error). */
export async function runCondorJob(w: WrapperRun): Promise<number> {
  const ad = readJobAd(w.env['_CONDOR_JOB_AD']);
  const key = jobKey(ad, String(process.pid));
  const fail = (e: LaunchError): number => {
    reportLaunchError(w.env, e);
    writeWrapperEvent(w.config, key, { event: 'end', state: 'held', reason: `${e.code}: ${e.message}`, ...(e.permanent ? { refuse: { job: ad.globalJobId, user: e.stage === 'identity' ? ad.user : null } } : {}) });
    w.log.warn('HTCondor job not started', { job: ad.globalJobId, code: e.code, reason: e.message, permanent: e.permanent });
    return 1;
  };
  if (w.argv.length === 0) return fail(launchError('wrapper', 'BAD_SPEC', 'the starter gave the job wrapper no job command', true));
  let policy: Policy;
  try {
    policy = await loadPolicy(w.config.policy ?? undefined);
  } catch (e) {
    return fail(launchError('wrapper', 'BAD_SPEC', `the site policy cannot be loaded: ${(e as Error).message}`, false));
  }
  writeWrapperEvent(w.config, key, { event: 'start' });
  if (policy.identity === 'none') {
    // No identity switching configured: the job runs as the pilot (the agent logged this once).
    try {
      process.execve!(w.argv[0]!, w.argv, w.env as Record<string, string>);
    } catch (e) {
      return fail(launchError('exec', (e as NodeJS.ErrnoException).code ?? 'EIO', `cannot exec ${w.argv[0]}: ${(e as Error).message}`));
    }
  }
  let r: JobResult | LaunchError;
  try {
    r = await runSwitched(w, policy, key);
  } catch (e) {
    // An error of ours, not the job's: the attempt fails, the job and its submitter stay welcome.
    r = launchError('wrapper', 'INTERNAL', (e as Error).message, false);
  }
  if ('stage' in r) return fail(r);
  if (r.launchError && r.state !== 'completed') return fail(r.launchError);
  writeWrapperEvent(w.config, key, { event: 'end', state: r.state, reason: r.reason });
  return exitCode(r);
}
