// One launch attempt of a job (DESIGN.md section 7): a private run directory and close-on-exec
// spec channel, the wrapper spawned (through the helper in helper mode; on a pty, its output
// copied by the tty copier, for a tty job), moved into the job cgroup, and the spec exchanged.
// Once the payload has started: its wallclock limit and its exit; if it did not start: the
// failure classified (retry or hold). Either way the job is reaped before the attempt returns.
import { spawn } from 'node:child_process';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { selfCommand } from '../../shared/self-command.ts';
import { expandHelper } from './policy.ts';
import { openSpecChannel, type ChannelOutcome, type SpecChannel, type WrapperSpec } from './channel.ts';
import { launchError, type LaunchError } from './launch-error.ts';
import { isLaunchError } from './stdio.ts';
import { openTtyOutput, echoFilter, type CopierLaunch, type EchoFilter, type TtyOutput } from './tty-output.ts';
import type { PtyModule } from './pty.ts';
import { helperLimiter } from './limiter.ts';
import { selfAndAncestors, processIdentity } from './process-sweep.ts';
import { JobCgroup } from './cgroup-job.ts';
import { GpuDeviceCgroup, deniedMinors } from './gpu-cgroup.ts';
import type { ChildProc, JobState } from './job-state.ts';
import { adoptLaunchedProcesses, reapJob } from './job-reap.ts';
import { armWallclockTimer } from './job-supervision.ts';

export type Attempt = { kind: 'error'; error: LaunchError } | { kind: 'exited'; code: number | null; signal: string | null } | { kind: 'killed-before-start' };

type LaunchOutcome = ChannelOutcome | { kind: 'spawn-error'; error: Error } | { kind: 'timeout' } | { kind: 'exited-early'; code: number | null };

/** What one attempt has made ready before the wrapper is spawned. */
interface Launch {
  job: JobState;
  wspec: WrapperSpec;
  ptyMod: PtyModule | null;
  /** Policy identity 'helper': the wrapper starts through the helper command. */
  helper: boolean;
  channel: SpecChannel;
  /** The wrapper's command line (helper prefix included). */
  argv: string[];
  ttyOut: TtyOutput | null;
  /** Cuts the channel secret's terminal echo out of a tty job's output. */
  visible: EchoFilter;
}

/** After a proven wrapper exited, how long its record may take to be read (it is already in the
 * socket; only a helper that exits before its wrapper keeps the connection open this long). */
const RECORD_AFTER_EXIT_MS = 5000;

function signalName(n: number | undefined | null): string | null {
  if (!n) return null;
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return `SIG${n}`;
}

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;
/** What attemptLaunch adds under the base: /glidein-w-XXXXXX/w-<24 hex>.sock */
const SOCKET_SUFFIX_LENGTH = '/glidein-w-XXXXXX/w-'.length + 24 + '.sock'.length;

/**
 * Where the run dir (and its socket) goes: the temp dir, unless a socket there would be longer
 * than Linux allows (HTCondor sets TMPDIR deep inside its execute dir), then /tmp.
 */
export function socketBase(tmp = tmpdir()): string {
  const base = realpathSync(tmp);
  return Buffer.byteLength(base) + SOCKET_SUFFIX_LENGTH <= MAX_SOCKET_PATH ? base : '/tmp';
}

/** One launch of the job's wrapper, to the payload's exit or to a launch failure; reaped either way. */
export async function attemptLaunch(job: JobState, wspec: WrapperSpec, ptyMod: PtyModule | null): Promise<Attempt> {
  const { policy } = job.opts;
  const helper = policy.identity === 'helper';
  const runDir = await mkdtemp(join(socketBase(), 'glidein-w-'));
  let channel: SpecChannel | null = null;
  let closeStdio = (): Promise<void> => Promise.resolve();
  try {
    // The helper's target account must reach the socket: the directory can be traversed
    // but not listed; the socket is the account's (root agent) and the peer must prove itself.
    if (helper) await chmod(runDir, 0o711);
    const sockPath = join(runDir, `w-${randomBytes(12).toString('hex')}.sock`);
    // Helper mode always has an account; owner() gives it when the agent is root.
    const owner = helper ? (job.owner() ?? null) : null;
    channel = await openSpecChannel(sockPath, { owner, foreignPeer: helper });
    // The wrapper opens the job's stdio itself, as the account; only a tty job's output needs the agent.
    const ttyOut = ptyMod ? await openTtyOutput(job.spec.stdout, ttyCopier(job)) : null;
    if (isLaunchError(ttyOut)) return { kind: 'error', error: ttyOut };
    const visible = echoFilter(channel.secret);
    closeStdio = async () => {
      ttyOut?.write(visible.rest());
      await ttyOut?.close();
    };
    const argv = [...(helper ? expandHelper(policy, job.account!) : []), ...(job.opts.wrapperCommand ?? selfCommand()), 'wrapper', sockPath];
    const l: Launch = { job, wspec, ptyMod, helper, channel, argv, ttyOut, visible };
    // Helper launches pass the concurrency limit until the helper has done its authorization.
    const { child, outcome } = helper ? await helperLimiter(policy).run(() => launch(l)) : await launch(l);
    if (!child) {
      const e = (outcome as { error: Error }).error;
      return { kind: 'error', error: launchError(helper ? 'helper' : 'wrapper', (e as { code?: string }).code ?? 'EIO', `cannot start ${argv[0]}: ${e.message}`) };
    }
    try {
      return await settle(l, child, outcome);
    } finally {
      await reapJob(job, child);
    }
  } finally {
    channel?.close();
    await closeStdio();
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A job the pilot gave GPUs to (or none, on a GPU pilot): other GPUs' nodes closed to it where cgroup v1 devices allows. */
function confineGpus(job: JobState, pid: number): void {
  if (!job.opts.gpus || job.opts.keepGpuEnv) return;
  const problems: string[] = [];
  job.gpuCgroup ??= GpuDeviceCgroup.create(job.spec.id, deniedMinors(job.opts.gpus, job.opts.gpuPaths), problems);
  if (!job.gpuCgroup) {
    if (problems.length) job.log.debug('other GPUs not closed to the job by a devices cgroup', { reasons: problems });
    return;
  }
  if (!job.gpuCgroup.adopt(pid)) job.log.warn('cannot move the wrapper into the GPU devices cgroup', { path: job.gpuCgroup.path });
}

/** Spawn the wrapper into the job cgroup and exchange the spec; no child when the spawn failed. */
async function launch(l: Launch): Promise<{ child: ChildProc | null; outcome: LaunchOutcome }> {
  const { job } = l;
  const cgroupProblems: string[] = [];
  job.cgroup ??= JobCgroup.create(job.spec.id, undefined, cgroupProblems);
  if (!job.cgroup) job.log.debug('no job cgroup; the process sweep alone ends the job', { reasons: cgroupProblems });
  const child = spawnWrapper(l);
  if (child.pid <= 0) {
    const e = await child.exit;
    return { child: null, outcome: { kind: 'spawn-error', error: e.spawnError ?? new Error('spawn failed') } };
  }
  job.child = child;
  // Before any event-loop turn: the wrapper forks nothing until it has the spec (a helper may:
  // its launches are not taken as confined).
  const adopted = job.cgroup?.adopt(child.pid) ?? false;
  confineGpus(job, child.pid);
  if (job.cgroup && !adopted) job.log.warn('cannot move the wrapper into the job cgroup', { path: job.cgroup.path });
  const uid = job.account?.uid ?? process.getuid?.() ?? null;
  job.cgroupConfines = adopted && !l.helper && uid !== null && job.cgroup!.confines(uid);
  job.selector = { sessions: new Set([child.pid]), leaderStart: processIdentity(child.pid)?.start ?? null, mark: job.jobMark, uid, exclude: selfAndAncestors() };
  return { child, outcome: await exchangeSpec(l, child) };
}

/** Start the wrapper (on a pty for a tty job, else detached in its own session) and hand it the channel secret. */
function spawnWrapper(l: Launch): ChildProc {
  const { argv, ptyMod, ttyOut, visible } = l;
  const secretLine = `${l.channel.secret}\n`;
  const spawnEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NODE_NO_WARNINGS: '1' };
  if (ptyMod) {
    const p = ptyMod.spawn(argv[0]!, argv.slice(1), { name: 'xterm-256color', cols: 80, rows: 24, cwd: '/', env: spawnEnv });
    p.onData((d: string) => ttyOut?.write(visible.take(d)));
    p.write(secretLine);
    return { pid: p.pid, exit: new Promise((r) => p.onExit(({ exitCode, signal }: { exitCode: number; signal?: number }) => r({ code: signal ? null : exitCode, signal: signalName(signal) }))) };
  }
  const cp = spawn(argv[0]!, argv.slice(1), {
    detached: true, // setsid(): the wrapper, then the payload, leads its own session
    stdio: ['pipe', 'ignore', 'ignore'],
    env: spawnEnv,
    cwd: '/',
  });
  cp.stdin?.on('error', () => undefined);
  cp.stdin?.end(secretLine);
  return {
    pid: cp.pid ?? -1,
    exit: new Promise((r) => {
      cp.on('error', (e) => r({ code: null, signal: null, spawnError: e }));
      cp.on('exit', (code, signal) => r({ code, signal }));
    }),
  };
}

/** The spec exchange against the wrapper's early exit, the connect timeout and a kill of the job. */
async function exchangeSpec(l: Launch, child: ChildProc): Promise<LaunchOutcome> {
  const { job, helper, channel } = l;
  const timeoutMs = (helper ? job.opts.policy.helperTimeoutSeconds : 30) * 1000;
  let timer: NodeJS.Timeout | undefined;
  // A helper (sudo, runuser) may have forked before its pid was moved: move what it started.
  const exchanged = channel.exchange(l.wspec, helper && job.cgroup ? () => adoptLaunchedProcesses(job) : undefined);
  let outcome = await Promise.race([
    exchanged,
    child.exit.then((e) => ({ kind: 'exited-early' as const, code: e.code })),
    new Promise<{ kind: 'timeout' }>((r) => (timer = setTimeout(() => r({ kind: 'timeout' }), timeoutMs))),
    new Promise<{ kind: 'no-connection' }>((r) => (job.onKill = () => r({ kind: 'no-connection' }))),
  ]);
  // The wrapper writes its record, then exits: its exit and the record's arrival race on
  // this event loop. A proven wrapper's answer is already in the socket (its end closed with
  // it), so read it rather than call a permanent error a retryable WRAPPER_EXIT.
  if (outcome.kind === 'exited-early' && channel.proven) {
    const early = outcome;
    let grace: NodeJS.Timeout | undefined;
    outcome = await Promise.race([exchanged, new Promise<typeof early>((r) => (grace = setTimeout(() => r(early), RECORD_AFTER_EXIT_MS)))]);
    clearTimeout(grace);
  }
  clearTimeout(timer);
  job.onKill = null;
  return outcome;
}

/** The payload started: supervise it to its exit. Otherwise: abandon the channel and classify. */
async function settle(l: Launch, child: ChildProc, outcome: LaunchOutcome): Promise<Attempt> {
  const { job, helper, argv } = l;
  const { policy } = job.opts;
  if (outcome.kind === 'exec-ok') {
    job.log.info('payload started', { pid: child.pid, uid: job.account?.uid ?? process.getuid?.(), mode: policy.identity });
    if (job.killReason) job.kill(job.killReason);
    armWallclockTimer(job);
    await job.audit.started(child.pid);
    const e = await child.exit;
    return { kind: 'exited', code: e.code, signal: e.signal };
  }
  // Not started: make sure nothing of it is left, then classify.
  l.channel.abandon();
  if (outcome.kind === 'no-connection' && job.killReason) return { kind: 'killed-before-start' };
  if (outcome.kind === 'error') return { kind: 'error', error: outcome.error };
  if (outcome.kind === 'timeout') {
    return { kind: 'error', error: launchError(helper ? 'helper' : 'wrapper', helper ? 'HELPER_TIMEOUT' : 'ETIMEDOUT', `the wrapper did not connect within ${helper ? policy.helperTimeoutSeconds : 30} s`, false) };
  }
  const code = outcome.kind === 'exited-early' ? outcome.code : null;
  if (helper) return { kind: 'error', error: launchError('helper', 'HELPER_REFUSED', `the helper ${argv[0]} exited with code ${code} before starting the wrapper (authorization refused?)`, true) };
  return { kind: 'error', error: launchError('wrapper', 'WRAPPER_EXIT', `the wrapper exited with code ${code} before reporting`, false) };
}

/** How a tty job's output copier becomes the account; null when the agent is the payload's account. */
function ttyCopier(job: JobState): CopierLaunch | null {
  const { policy } = job.opts;
  if (policy.identity === 'none' || !job.account) return null;
  const self = [...(job.opts.wrapperCommand ?? selfCommand())];
  const timeoutMs = policy.helperTimeoutSeconds * 1000;
  if (policy.identity === 'helper') return { argv: [...expandHelper(policy, job.account), ...self], timeoutMs };
  return { argv: self, uid: job.account.uid, gid: job.account.gid, timeoutMs };
}
