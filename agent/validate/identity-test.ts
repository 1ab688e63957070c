// The identity-switch self-test of `glidein validate --policy` (issue 15 part 3, gLExec's wrapper
// tests): for each account, a test payload goes through the sandbox path `glidein exec` takes
// (startJob: verify, map, switch, wrapper, stdio, supervision, wipe) and reports, as that
// account, its uid and groups, whether it could read a secret in the pilot's store, and whether
// it could enter the work dir. The agent compares what the payload saw with what it expected.
import { mkdtemp, chmod, chown, mkdir, readFile, rm, realpath } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log.ts';
import { CredStore } from '../store/index.ts';
import { parseJobSpec } from '../sandbox/job-spec.ts';
import { startJob } from '../sandbox/start-job.ts';
import { lookupAccount, type Account } from '../sandbox/account.ts';
import type { Policy } from '../sandbox/policy.ts';
import { createSelfTestSite, type SelfTestSite } from './self-test-site.ts';

/** What `validate --policy FILE [--as ACCOUNT]...` asks for. */
export interface IdentityTestPlan {
  policy: Policy;
  /** The accounts to switch to (the --as names, else every account the mapfile maps to). */
  accounts: readonly string[];
  log: Logger;
  /** How to start `glidein wrapper` (default: this program, as `glidein exec` does). */
  wrapperCommand?: readonly string[];
}

export type IdentityStep = 'lookup' | 'launch' | 'uid' | 'groups' | 'store' | 'workdir';

export interface AccountVerdict {
  account: string;
  /** The first step that failed, or null when all passed. */
  failedStep: IdentityStep | null;
  detail: string;
  durationMs: number;
}

const PROBE_NAME = 'identity-self-test-probe';
const CONCURRENCY = 4;
// Run as the account: its uid and groups, then whether it can read the probe ($1) or enter the
// work dir ($2); the output file ($3) is made readable for a non-root agent to collect.
const SCRIPT = [
  'id -u && id -G',
  'if cat -- "$1" >/dev/null 2>&1; then echo store=readable; else echo store=denied; fi',
  'if cd -- "$2" 2>/dev/null; then echo workdir=ok; else echo workdir=denied; fi',
  'chmod 0644 -- "$3" 2>/dev/null',
  'echo ok',
].join('\n');

interface Run {
  dir: string;
  store: CredStore;
  site: SelfTestSite;
  probe: string;
  workdir: string;
  plan: IdentityTestPlan;
  signal: AbortSignal;
}

/** Every group id of the account as initgroups(3) gives it (primary first). */
function expectedGroups(account: Account): Promise<number[]> {
  return new Promise((resolve) => {
    execFile('id', ['-G', '--', account.name], { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout) => {
      resolve(err ? [account.gid] : stdout.toString().trim().split(/\s+/).map(Number));
    });
  });
}

/** A private output dir the account can write: owned by it (root agent) or write-only for all. */
async function outputDir(run: Run, account: Account): Promise<string> {
  const out = join(run.dir, `out-${randomBytes(6).toString('hex')}`);
  await mkdir(out, { mode: 0o700 });
  if (process.geteuid?.() === 0) await chown(out, account.uid, account.gid);
  else await chmod(out, 0o733);
  return out;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && [...a].sort((x, y) => x - y).every((v, i) => v === [...b].sort((x, y) => x - y)[i]);
}

/** Compare what the payload printed with what the account should see. */
function judge(account: Account, groups: number[], workdir: string, output: string): { failedStep: IdentityStep | null; detail: string } {
  const [uidLine, groupsLine, storeLine, workdirLine, okLine] = output.trim().split('\n');
  if (okLine !== 'ok') return { failedStep: 'launch', detail: 'the test payload did not finish its report' };
  if (uidLine !== String(account.uid)) return { failedStep: 'uid', detail: `ran as uid ${uidLine}, expected ${account.uid}` };
  const seen = (groupsLine ?? '').split(/\s+/).filter((g) => g !== '').map(Number);
  if (!sameSet(seen, groups)) return { failedStep: 'groups', detail: `ran with groups ${seen.join(',')}, expected ${groups.join(',')}` };
  if (storeLine !== 'store=denied') return { failedStep: 'store', detail: "could read a secret in the pilot's credential store" };
  if (workdirLine !== 'workdir=ok') return { failedStep: 'workdir', detail: `cannot search the work dir ${workdir}` };
  return { failedStep: null, detail: `uid ${account.uid}, groups ${groups.join(',')}` };
}

async function testAccount(run: Run, name: string): Promise<Omit<AccountVerdict, 'durationMs'>> {
  const account = await lookupAccount(name);
  if (!account) return { account: name, failedStep: 'lookup', detail: 'no such account on this node' };
  if (account.uid === 0) return { account: name, failedStep: 'lookup', detail: 'is root; payloads never run as root' };
  const [groups, out] = await Promise.all([expectedGroups(account), outputDir(run, account)]);
  const stdout = join(out, 'stdout');
  const spec = parseJobSpec({
    id: `identity-self-test-${randomBytes(6).toString('hex')}`,
    executable: '/bin/sh',
    args: ['-c', SCRIPT, 'identity-self-test', run.probe, run.workdir, stdout],
    cwd: '/',
    stdout,
    limits: { wallclockSeconds: 60 },
    identity: await run.site.token(name),
  }, 'identity self-test');
  const { plan } = run;
  const result = await startJob(spec, {
    policy: run.site.policy, store: run.store, log: plan.log, signal: run.signal, audit: { source: 'validate' },
    ...(plan.wrapperCommand ? { wrapperCommand: plan.wrapperCommand } : {}),
  }).result;
  if (result.state !== 'completed' || result.exitCode !== 0) {
    const why = result.launchError ? `${result.launchError.code}: ${result.launchError.message}` : (result.reason ?? `exit code ${result.exitCode}`);
    return { account: name, failedStep: 'launch', detail: `the test payload was ${result.state} (${why})` };
  }
  const output = await readFile(stdout, 'utf8').catch(() => '');
  return { account: name, ...judge(account, groups, run.workdir, output) };
}

async function setUp(plan: IdentityTestPlan, workdir: string, signal: AbortSignal): Promise<Run> {
  const dir = await mkdtemp(join(await realpath(tmpdir()), 'glidein-identity-test-'));
  await chmod(dir, 0o711);
  const store = await CredStore.open(dir, { log: plan.log });
  // The secret the payloads must not read: a pilot file in the store, as the refresh token is.
  await store.writePilot(PROBE_NAME, randomBytes(32).toString('hex'), null);
  const site = await createSelfTestSite(plan.policy, dir, plan.accounts);
  return { dir, store, site, probe: store.pilotPath(PROBE_NAME), workdir, plan, signal };
}

/** Run the self-test for every account of the plan (a few at a time); one verdict each. */
export async function runIdentityTest(plan: IdentityTestPlan, workdir: string, signal: AbortSignal): Promise<AccountVerdict[]> {
  const run = await setUp(plan, workdir, signal);
  try {
    const verdicts: AccountVerdict[] = new Array(plan.accounts.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < plan.accounts.length; i = next++) {
        const t0 = performance.now();
        const v = await testAccount(run, plan.accounts[i]!).catch((e: unknown) => ({ account: plan.accounts[i]!, failedStep: 'launch' as const, detail: `could not run the test payload: ${(e as Error).message}` }));
        verdicts[i] = { ...v, durationMs: Math.round(performance.now() - t0) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, plan.accounts.length) }, worker));
    return verdicts;
  } finally {
    await run.store.wipeAll().catch(() => undefined);
    await rm(run.dir, { recursive: true, force: true });
  }
}
