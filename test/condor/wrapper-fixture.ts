// The starter's side of glidein's job wrapper, for tests: a condor dir with the wrapper config
// and its key, one job's scratch dir as the starter makes it (owned by the non-root pilot, with
// .job.ad, _condor_stdout/_condor_stderr, and .condor_creds when the ad asks for OAuth), the
// prepare-job hook run with the job ad on stdin and the starter's environment, and the wrapper
// run as the starter runs it after the hook: with the environment the hook's update ad gave the
// job (HTCondor merges it into the ad before building the environment, StarterHookMgr.cpp)
// plus the starter's variables.
import { chownSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { makeFixture, nonRootPilot, type NonRootPilot, type SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { skipWithoutTool } from '../helpers/system-tools.ts';
import { JOB_FACTS_VARIABLE, readFactsKey, sealFacts, writeFactsKey, type JobFacts } from '../../agent/condor/job-env.ts';
import { parseJobAd } from '../../agent/condor/wrapper-config.ts';
import { jobAdContainer } from '../../agent/condor/job-ad-container.ts';
import { jobEnvironment } from '../../agent/condor/condor-env-syntax.ts';

export interface Scratch {
  dir: string;
  errorFile: string;
  events: string;
  config: string;
  ad: string;
  stdout: () => string;
  stderr: () => string;
}

export interface ScratchOptions {
  /** The ad asks for OAuth services (default true): the starter makes .condor_creds. */
  oauth?: boolean;
  /** The job's own environment, as the ad's Environment attribute (V2 syntax). */
  environment?: string;
  user?: string;
  /** More ad lines, e.g. `SingularityImage = "/images/el9"`. */
  adLines?: string[];
  /** Fields merged into the wrapper config (e.g. the bundle's container entry). */
  config?: Record<string, unknown>;
}

let n = 0;
export const lastJob = (): number => n;

/** Quote a value for a ClassAd string literal. */
const adQuote = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** A condor dir, wrapper config and one job's scratch dir, all owned by the pilot account. */
export function scratch(pilot: NonRootPilot, root: string, policy: string | null, token: string | null, o: ScratchOptions = {}): Scratch {
  const id = ++n;
  const oauth = o.oauth ?? true;
  const own = (p: string) => chownSync(p, pilot.account.uid, pilot.account.gid);
  const base = join(root, `c${id}`);
  for (const [d, mode] of [[base, 0o711], [join(base, 'stores'), 0o711], [join(base, 'events'), 0o700], [join(base, 'execute'), 0o711], [join(base, 'execute', 'dir_1'), 0o700]] as const) {
    mkdirSync(d, { mode });
    own(d);
  }
  const dir = join(base, 'execute', 'dir_1');
  const config = join(base, 'job-wrapper.json');
  const factsKey = join(base, 'job-facts.key');
  writeFactsKey(factsKey);
  own(factsKey);
  writeFileSync(config, JSON.stringify({ v: 1, policy, storeParent: join(base, 'stores'), events: join(base, 'events'), logFile: join(base, 'JobWrapperLog'), factsKey, ...o.config }));
  if (oauth) {
    const creds = join(dir, '.condor_creds');
    mkdirSync(creds, { mode: 0o700 });
    own(creds);
    if (token !== null) {
      writeFileSync(join(creds, 'scitokens.use'), token + '\n', { mode: 0o600 });
      own(join(creds, 'scitokens.use'));
    }
  }
  const ad = [
    'ClusterId = 5', `ProcId = ${id}`, `GlobalJobId = "schedd.test#5.${id}#1700000000"`, `User = ${adQuote(o.user ?? 'alice@test.example')}`,
    ...(oauth ? ['OAuthServicesNeeded = "scitokens"'] : []),
    ...(o.environment !== undefined ? [`Environment = ${adQuote(o.environment)}`] : []),
    ...(o.adLines ?? []),
  ].join('\n') + '\n';
  writeFileSync(join(dir, '.job.ad'), ad);
  for (const f of ['.job.ad', '_condor_stdout', '_condor_stderr']) {
    if (!existsSync(join(dir, f))) writeFileSync(join(dir, f), '', { mode: 0o644 });
    own(join(dir, f));
  }
  return {
    dir, config, ad, errorFile: join(base, '.job_wrapper_failure'), events: join(base, 'events'),
    stdout: () => readFileSync(join(dir, '_condor_stdout'), 'utf8'),
    stderr: () => readFileSync(join(dir, '_condor_stderr'), 'utf8'),
  };
}

/** The starter's own variables (PublishToEnv) for this job. */
function starterEnv(s: Scratch): Record<string, string> {
  // The starter sets _CONDOR_CREDS when it made the creds dir (an OAuth job); glidein ignores it.
  const creds: Record<string, string> = /^OAuthServicesNeeded/m.test(s.ad) ? { _CONDOR_CREDS: join(s.dir, '.condor_creds') } : {};
  return { _CONDOR_WRAPPER_ERROR_FILE: s.errorFile, _CONDOR_SCRATCH_DIR: s.dir, _CONDOR_JOB_AD: join(s.dir, '.job.ad'), BATCH_SYSTEM: 'HTCondor', ...creds };
}

/** Run the prepare-job hook as the starter does: as the pilot, the job ad on stdin, the starter's variables only. */
export function prepareHook(pilot: NonRootPilot, s: Scratch): Promise<{ code: number | null; stdout: string }> {
  const p = spawn(NODE, [CLI_TS, 'condor-prepare-job', '--config', s.config], {
    uid: pilot.account.uid, gid: pilot.account.gid, cwd: '/', stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: '/usr/bin:/bin', ...starterEnv(s) },
  });
  let stdout = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stdin!.end(readFileSync(join(s.dir, '.job.ad')));
  return new Promise((r) => p.on('close', (code) => r({ code, stdout })));
}

/** The job's environment after the starter merged the hook's update ad (its Environment wins). */
export function environmentAfterHook(s: Scratch, hookStdout: string): Record<string, string> {
  const updated = /^Environment\s*=/m.test(hookStdout) ? hookStdout : s.ad;
  return jobEnvironment(updated);
}

/** Start the wrapper as the starter does: as the pilot, in the scratch dir, stdout/stderr on its files, with `env`. */
export function startWrapper(pilot: NonRootPilot, s: Scratch, job: string[], env: Record<string, string>) {
  const out = openSync(join(s.dir, '_condor_stdout'), 'a');
  const err = openSync(join(s.dir, '_condor_stderr'), 'a');
  const p = spawn(NODE, [CLI_TS, 'condor-job-wrapper', '--config', s.config, '--', ...job], {
    uid: pilot.account.uid, gid: pilot.account.gid, cwd: s.dir, stdio: ['ignore', out, err],
    env: { PATH: '/usr/bin:/bin', HOME: s.dir, ...env },
  });
  closeSync(out);
  closeSync(err);
  return { pid: p.pid!, done: new Promise<number | null>((r) => p.on('close', (code) => r(code))) };
}

/**
 * The facts a hook that let the job go on would have sealed: for wrapper tests of refusals the
 * hook would have held (the token can change between the two: the starter refreshes creds).
 */
export function sealedAsHook(s: Scratch): Record<string, string> {
  const ad = parseJobAd(s.ad);
  const image = jobAdContainer(s.ad);
  const facts: JobFacts = { v: 1, env: jobEnvironment(s.ad), container: 'container' in image ? image.container : null, oauth: /^OAuthServicesNeeded/m.test(s.ad), scratchDir: s.dir, ...ad };
  const key = readFactsKey(JSON.parse(readFileSync(s.config, 'utf8')).factsKey as string, { owner: 'any' });
  return { [JOB_FACTS_VARIABLE]: sealFacts(facts, key) };
}

/** The hook, then the wrapper with the job's environment as the starter builds it after the hook. */
export async function runJob(pilot: NonRootPilot, s: Scratch, job: string[], starterExtra: Record<string, string> = {}) {
  const hook = await prepareHook(pilot, s);
  const held = /^HookStatusCode\s*=\s*[1-9]/m.test(hook.stdout);
  const env = held ? sealedAsHook(s) : environmentAfterHook(s, hook.stdout);
  return startWrapper(pilot, s, job, { ...env, ...starterEnv(s), ...starterExtra });
}

export function events(s: Scratch): Record<string, unknown>[] {
  return readdirSync(s.events).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(readFileSync(join(s.events, f), 'utf8')) as Record<string, unknown>);
}

/** The starter's side of a test file: mapped accounts, a non-root pilot, and the condor dir. */
export interface StarterSide {
  fx: SandboxFixture;
  pilot: NonRootPilot;
  root: string;
}

/** Set it up (root only); undefined, after saying why, without sudo (the helper) or setfacl. */
export async function starterSide(accounts: [string, string], pilotName: string): Promise<StarterSide | undefined> {
  if (skipWithoutTool('sudo', 'the non-root pilot needs sudo as its helper (apt-get install sudo)')) return undefined;
  if (skipWithoutTool('setfacl', 'a non-root pilot hands the scratch dir to the mapped account with POSIX ACLs (apt-get install acl)')) return undefined;
  const fx = await makeFixture(accounts);
  const pilot = nonRootPilot(fx, pilotName);
  const root = join(fx.dir, 'condor');
  mkdirSync(root, { mode: 0o711 });
  return { fx, pilot, root };
}
