// Starting and supervising one job (DESIGN.md section 7): identity → credentials → stdio →
// wrapper under the target identity → close-on-exec channel → supervision (wallclock, kills,
// credential expiry) → every process of the job gone → credentials wiped → one result.
import { spawn } from 'node:child_process';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { realpathSync, existsSync } from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.ts';
import { isJwtType, type Credential } from '../../shared/credential.ts';
import { selfCommand } from '../../shared/self-command.ts';
import type { CredStore } from '../store/index.ts';
import type { JobSpec } from './job-spec.ts';
import { expandHelper, type Policy } from './policy.ts';
import { resolveIdentity, unverifiedSubject } from './identity.ts';
import type { Account } from './account.ts';
import { buildPayloadEnv } from './environment.ts';
import { openSpecChannel, type ChannelOutcome, type WrapperSpec } from './channel.ts';
import { backoffMs, launchError, type LaunchError } from './launch-error.ts';
import { isLaunchError } from './stdio.ts';
import { openTtyOutput, echoFilter, type CopierLaunch } from './tty-output.ts';
import { loadPty, type PtyModule } from './pty.ts';
import { helperLimiter } from './limiter.ts';
import { selfAndAncestors, signalJob, readProcTable, selectJobProcesses, processIdentity, type JobSelector } from './process-sweep.ts';
import { JobCgroup } from './cgroup-job.ts';
import type { JobResult, KillReason } from './result.ts';

export interface StartJobOptions {
  policy: Policy;
  store: CredStore;
  log: Logger;
  /** Aborting it stops the job with reason `pilot-shutdown`. */
  signal?: AbortSignal;
  /** Where the harmless basics of the payload's environment (LANG, TZ …) come from; default process.env. */
  agentEnv?: NodeJS.ProcessEnv;
  /** How to start `glidein wrapper`; default: this same program (shared/self-command.ts). The
   * benchmarks pass the built executable so an in-process measurement uses the production wrapper. */
  wrapperCommand?: readonly string[];
}

export type UpdateResult = { ok: true } | { ok: false; reason: string };

export interface JobHandle {
  readonly id: string;
  readonly result: Promise<JobResult>;
  /** Stop the job: SIGTERM to all of it, SIGKILL after the policy's killGraceSeconds. */
  kill(reason: KillReason): void;
  /** Hand the job a fresher credential (same purpose, same iss,sub); it is written atomically in the background. */
  updateCredential(cred: Credential): UpdateResult;
}

interface ChildProc {
  pid: number;
  exit: Promise<{ code: number | null; signal: string | null; spawnError?: Error }>;
}

type Attempt = { kind: 'error'; error: LaunchError } | { kind: 'exited'; code: number | null; signal: string | null } | { kind: 'killed-before-start' };

const KILL_REASON_TEXT: Record<KillReason, string> = {
  timeout: 'wallclock limit reached',
  'credential-expired': 'a credential the job carries is about to expire',
  'pilot-shutdown': 'the pilot is shutting down',
  cancelled: 'cancelled',
};
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a proven wrapper exited, how long its record may take to be read (it is already in the
 * socket; only a helper that exits before its wrapper keeps the connection open this long). */
const RECORD_AFTER_EXIT_MS = 5000;

function signalName(n: number | undefined | null): string | null {
  if (!n) return null;
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return `SIG${n}`;
}

function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

class Job {
  readonly spec: JobSpec;
  /** Random per job, in every payload process's environment: finds processes that left the session. */
  readonly jobMark = randomBytes(16).toString('hex');
  readonly opts: StartJobOptions;
  readonly log: Logger;
  readonly t0 = Date.now();
  killReason: KillReason | null = null;
  killDetail: string | null = null;
  credentials: Credential[];
  account: Account | null = null;
  agentWritesCredentials: boolean;
  credentialsWritten = false;
  writeChain: Promise<unknown> = Promise.resolve();
  child: ChildProc | null = null;
  selector: JobSelector | null = null;
  /** The attempt's own cgroup, where one can be made: ends the job with nothing left behind. */
  cgroup: JobCgroup | null = null;
  ended = false;
  #onKill: (() => void) | null = null;
  #timers: NodeJS.Timeout[] = [];
  #expiryTimer: NodeJS.Timeout | null = null;
  #escalated = false;

  constructor(spec: JobSpec, opts: StartJobOptions) {
    this.spec = spec;
    this.opts = opts;
    this.log = opts.log.child({ jobId: spec.id });
    this.credentials = [...spec.credentials];
    this.agentWritesCredentials = !(opts.policy.identity === 'helper' && !isRoot());
  }

  get usesHelperForKills(): boolean {
    return this.opts.policy.identity === 'helper' && !isRoot();
  }

  result(partial: Partial<JobResult> & Pick<JobResult, 'state'>): JobResult {
    return {
      id: this.spec.id,
      state: partial.state,
      exitCode: partial.exitCode ?? null,
      signal: partial.signal ?? null,
      reason: partial.reason ?? null,
      launchError: partial.launchError ?? null,
      uid: partial.uid ?? null,
      durationMs: Date.now() - this.t0,
    };
  }

  held(error: LaunchError): JobResult {
    this.log.warn('job held', { stage: error.stage, code: error.code, reason: error.message });
    return this.result({ state: 'held', reason: `${error.code}: ${error.message}`, launchError: error });
  }

  killedResult(extra: Partial<JobResult> = {}): JobResult {
    const reason = this.killReason!;
    return this.result({ ...extra, state: 'killed', reason: `${reason}: ${this.killDetail ?? KILL_REASON_TEXT[reason]}` });
  }

  /** Unix ms at which the job must be stopped for its credentials, or null. */
  credentialDeadline(): { at: number; purpose: string } | null {
    let best: { at: number; purpose: string } | null = null;
    for (const c of this.credentials) {
      if (c.expiresAt === null) continue;
      const at = (c.expiresAt - this.opts.policy.credentialGraceSeconds) * 1000;
      if (!best || at < best.at) best = { at, purpose: c.purpose };
    }
    return best;
  }

  armExpiryTimer(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    const d = this.credentialDeadline();
    if (!d || this.ended) return;
    const ms = d.at - Date.now();
    this.#expiryTimer = setTimeout(() => {
      if (Date.now() < d.at) return this.armExpiryTimer();
      this.killDetail = `credential '${d.purpose}' expires within the policy's ${this.opts.policy.credentialGraceSeconds} s grace`;
      this.kill('credential-expired');
    }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    this.#expiryTimer.unref?.();
  }

  kill(reason: KillReason): void {
    if (this.ended) return;
    if (this.killReason === null) {
      this.killReason = reason;
      this.log.info('stopping job', { reason });
    }
    this.#onKill?.();
    if (!this.child || !this.selector || this.#escalated) return;
    this.#escalated = true;
    void this.signal('SIGTERM');
    const grace = setTimeout(() => void this.signal('SIGKILL'), this.opts.policy.killGraceSeconds * 1000);
    this.#timers.push(grace);
  }

  /** Signal every process of the job, directly or (agent not root, helper mode) through the helper. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const sel = this.selector;
    if (!sel || !this.child) return;
    await this.cgroup?.signal(sig).catch((e: unknown) => this.log.warn('cannot signal the job cgroup', { path: this.cgroup?.path, error: e }));
    if (!this.usesHelperForKills) {
      signalJob(sel, sig);
      return;
    }
    const argv = [...expandHelper(this.opts.policy, this.account!), ...(this.opts.wrapperCommand ?? selfCommand()), 'wrapper', 'kill', '--signal', sig, '--session', String(this.child.pid), ...(sel.leaderStart != null ? ['--start', String(sel.leaderStart)] : []), ...(sel.mark !== null ? ['--mark', sel.mark] : [])];
    await this.runHelper(argv);
  }

  async runHelper(argv: string[]): Promise<void> {
    await helperLimiter(this.opts.policy).run(
      () =>
        new Promise<void>((resolve) => {
          const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NODE_NO_WARNINGS: '1' }, timeout: this.opts.policy.helperTimeoutSeconds * 1000 });
          p.on('error', (e) => {
            this.log.warn('helper call failed', { helper: argv[0], error: e.message });
            resolve();
          });
          p.on('exit', () => resolve());
        }),
    );
  }

  updateCredential(cred: Credential): UpdateResult {
    if (this.ended) return { ok: false, reason: 'the job has ended' };
    const idx = this.credentials.findIndex((c) => c.purpose === cred.purpose);
    const old = this.credentials[idx];
    if (!old) return { ok: false, reason: `the job carries no credential with purpose '${cred.purpose}'` };
    if (old.type !== cred.type) return { ok: false, reason: `the job's '${cred.purpose}' credential is a ${old.type}, not a ${cred.type}` };
    if (isJwtType(cred.type)) {
      const a = unverifiedSubject(old.token);
      const b = unverifiedSubject(cred.token);
      if (!a || !b || a.iss !== b.iss || a.sub !== b.sub) {
        this.log.security('credential update with a different identity refused', { purpose: cred.purpose });
        return { ok: false, reason: `the new '${cred.purpose}' credential names a different identity (iss,sub); refused` };
      }
    }
    if (old.expiresAt !== null && (cred.expiresAt === null || cred.expiresAt <= old.expiresAt)) {
      return { ok: false, reason: `the new '${cred.purpose}' credential is not fresher than the current one` };
    }
    if (!this.agentWritesCredentials) {
      return { ok: false, reason: 'in helper mode without root the agent cannot rewrite the job\'s credential files' };
    }
    this.credentials[idx] = cred;
    if (this.credentialsWritten) {
      const owner = this.owner();
      this.writeChain = this.writeChain
        .then(() => this.opts.store.writeJobCredential(this.spec.id, cred.purpose, cred.token, cred.expiresAt, owner))
        .catch((e: unknown) => this.log.error('cannot write the updated job credential', { purpose: cred.purpose, error: e }));
    }
    this.armExpiryTimer();
    this.log.info('job credential updated', { purpose: cred.purpose, expiresAt: cred.expiresAt });
    return { ok: true };
  }

  owner(): { uid: number; gid: number } | undefined {
    return this.account && isRoot() ? { uid: this.account.uid, gid: this.account.gid } : undefined;
  }

  async run(): Promise<JobResult> {
    const onAbort = () => this.kill('pilot-shutdown');
    if (this.opts.signal?.aborted) onAbort();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.runInner();
    } finally {
      this.ended = true;
      this.opts.signal?.removeEventListener('abort', onAbort);
      for (const t of this.#timers) clearTimeout(t);
      if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
      await this.writeChain;
      await this.cleanup();
    }
  }

  async cleanup(): Promise<void> {
    // A cgroup made for a launch whose spawn failed was never reaped: it is empty.
    this.cgroup?.remove();
    this.cgroup = null;
    if (this.credentialsWritten) {
      await this.opts.store.wipe(this.spec.id).catch((e: unknown) => this.log.error('cannot wipe the job credentials', { error: e }));
    }
    if (!this.agentWritesCredentials && this.account && this.credentials.length > 0) {
      await this.runHelper([...expandHelper(this.opts.policy, this.account), ...(this.opts.wrapperCommand ?? selfCommand()), 'wrapper', 'cleanup', '--job', this.spec.id]);
    }
  }

  async runInner(): Promise<JobResult> {
    const { policy } = this.opts;
    const who = await resolveIdentity(this.spec.identity, policy);
    if (!who.ok) return this.held(who.error);
    this.account = who.account;
    if (policy.identity === 'setuid' && !isRoot()) {
      return this.held(launchError('identity', 'NOT_ROOT', "policy identity 'setuid' needs the agent to run as root", true));
    }
    let ptyMod: PtyModule | null = null;
    if (this.spec.tty) {
      const m = await loadPty();
      if (m instanceof Error) return this.held(launchError('pty', 'PTY_UNAVAILABLE', `tty job, but node-pty cannot load: ${m.message}`, true));
      ptyMod = m;
    }
    const deadline = this.credentialDeadline();
    if (deadline && deadline.at <= Date.now()) {
      return this.held(launchError('credentials', 'CREDENTIAL_EXPIRED', `credential '${deadline.purpose}' expires within the policy's ${policy.credentialGraceSeconds} s grace; not started`, true));
    }
    if (this.killReason) return this.killedResult();

    // Credentials: the agent writes them for the mapped account (root or same uid); a
    // non-root agent in helper mode hands them to the wrapper, which writes them as the user.
    let bearer: string | null = null;
    if (this.agentWritesCredentials && this.credentials.length > 0) {
      const owner = this.owner();
      await this.opts.store.createJobDir(this.spec.id, owner);
      this.credentialsWritten = true;
      for (const c of [...this.credentials]) {
        const path = await this.opts.store.writeJobCredential(this.spec.id, c.purpose, c.token, c.expiresAt, owner);
        bearer ??= path;
      }
    }
    const uid = this.account ? this.account.uid : (process.getuid?.() ?? null);
    // No cwd given: the account's home (or / when it has none), or the agent's own cwd in none mode.
    const cwd = this.spec.cwd ?? (this.account ? (existsSync(this.account.home) ? this.account.home : '/') : process.cwd());
    const env = buildPayloadEnv({ agentEnv: this.opts.agentEnv ?? process.env, user: this.account, jobEnv: this.spec.env, cwd, bearerTokenFile: bearer, tty: this.spec.tty, jobMark: this.jobMark });
    const wspec: WrapperSpec = {
      v: 1,
      jobId: this.spec.id,
      mode: policy.identity,
      user: this.account ? { name: this.account.name, uid: this.account.uid, gid: this.account.gid } : null,
      executable: this.spec.executable,
      argv: [this.spec.executable, ...this.spec.args],
      env,
      cwd,
      umask: 0o077,
      stdio: this.spec.tty ? null : { stdin: this.spec.stdin, stdout: this.spec.stdout, stderr: this.spec.stderr },
      credentials: !this.agentWritesCredentials && this.credentials.length > 0 ? this.credentials.map((c) => ({ name: c.purpose, data: c.token })) : null,
      bearerName: this.credentials[0]?.purpose ?? null,
    };
    this.armExpiryTimer();

    let last: LaunchError | null = null;
    for (let attempt = 0; attempt < policy.launchAttempts; attempt++) {
      if (attempt > 0) {
        const wait = backoffMs(attempt);
        this.log.info('retrying launch', { attempt: attempt + 1, waitMs: wait, code: last?.code });
        await Promise.race([sleep(wait), new Promise<void>((r) => (this.#onKill = r))]);
        this.#onKill = null;
      }
      if (this.killReason) return this.killedResult({ uid, launchError: last });
      const a = await this.attempt(wspec, ptyMod);
      if (a.kind === 'killed-before-start') return this.killedResult({ uid, launchError: last });
      if (a.kind === 'exited') {
        if (this.killReason) return this.killedResult({ exitCode: a.code, signal: a.signal, uid });
        if (a.code === 0) return this.result({ state: 'completed', exitCode: 0, uid });
        return this.result({ state: 'failed', exitCode: a.code, signal: a.signal, uid, reason: a.signal ? `killed by signal ${a.signal}` : `exited with code ${a.code}` });
      }
      last = a.error;
      if (a.error.permanent) return this.result({ ...this.held(a.error), uid });
      this.log.warn('launch failed', { stage: a.error.stage, code: a.error.code, attempt: attempt + 1 });
    }
    return this.result({ state: 'failed', uid, launchError: last, reason: `launch failed after ${policy.launchAttempts} attempts: ${last?.code}: ${last?.message}` });
  }

  async attempt(wspec: WrapperSpec, ptyMod: PtyModule | null): Promise<Attempt> {
    const { policy } = this.opts;
    const helper = policy.identity === 'helper';
    const runDir = await mkdtemp(join(realpathSync(tmpdir()), 'glidein-w-'));
    let channel: Awaited<ReturnType<typeof openSpecChannel>> | null = null;
    let closeStdio = (): Promise<void> => Promise.resolve();
    try {
      // The helper's target account must reach the socket: the directory can be traversed
      // but not listed; the socket is the account's (root agent) and the peer must prove itself.
      if (helper) await chmod(runDir, 0o711);
      const sockPath = join(runDir, `w-${randomBytes(12).toString('hex')}.sock`);
      const owner = helper && isRoot() ? { uid: this.account!.uid, gid: this.account!.gid } : null;
      channel = await openSpecChannel(sockPath, { owner, foreignPeer: helper });
      // The wrapper opens the job's stdio itself, as the account; only a tty job's output needs the agent.
      const ttyOut = ptyMod ? await openTtyOutput(this.spec.stdout, this.ttyCopier()) : null;
      if (isLaunchError(ttyOut)) return { kind: 'error', error: ttyOut };
      const visible = echoFilter(channel.secret);
      closeStdio = async () => {
        ttyOut?.write(visible.rest());
        await ttyOut?.close();
      };
      const secretLine = `${channel.secret}\n`;
      const argv = [...(helper ? expandHelper(policy, this.account!) : []), ...(this.opts.wrapperCommand ?? selfCommand()), 'wrapper', sockPath];
      const spawnEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NODE_NO_WARNINGS: '1' };

      const launch = async (): Promise<{ child: ChildProc | null; outcome: ChannelOutcome | { kind: 'spawn-error'; error: Error } | { kind: 'timeout' } | { kind: 'exited-early'; code: number | null } }> => {
        let child: ChildProc;
        const cgroupProblems: string[] = [];
        this.cgroup ??= JobCgroup.create(this.spec.id, undefined, cgroupProblems);
        if (!this.cgroup) this.log.debug('no job cgroup; the process sweep alone ends the job', { reasons: cgroupProblems });
        if (ptyMod) {
          const p = ptyMod.spawn(argv[0]!, argv.slice(1), { name: 'xterm-256color', cols: 80, rows: 24, cwd: '/', env: spawnEnv });
          p.onData((d: string) => ttyOut?.write(visible.take(d)));
          p.write(secretLine);
          child = { pid: p.pid, exit: new Promise((r) => p.onExit(({ exitCode, signal }: { exitCode: number; signal?: number }) => r({ code: signal ? null : exitCode, signal: signalName(signal) }))) };
        } else {
          const cp = spawn(argv[0]!, argv.slice(1), {
            detached: true, // setsid(): the wrapper, then the payload, leads its own session
            stdio: ['pipe', 'ignore', 'ignore'],
            env: spawnEnv,
            cwd: '/',
          });
          cp.stdin?.on('error', () => undefined);
          cp.stdin?.end(secretLine);
          child = {
            pid: cp.pid ?? -1,
            exit: new Promise((r) => {
              cp.on('error', (e) => r({ code: null, signal: null, spawnError: e }));
              cp.on('exit', (code, signal) => r({ code, signal }));
            }),
          };
        }
        if (child.pid <= 0) {
          const e = await child.exit;
          return { child: null, outcome: { kind: 'spawn-error', error: e.spawnError ?? new Error('spawn failed') } };
        }
        this.child = child;
        // Before any event-loop turn: the wrapper forks nothing until it has the spec.
        if (this.cgroup && !this.cgroup.adopt(child.pid)) this.log.warn('cannot move the wrapper into the job cgroup', { path: this.cgroup.path });
        this.selector = { sessions: new Set([child.pid]), leaderStart: processIdentity(child.pid)?.start ?? null, mark: this.jobMark, uid: this.account?.uid ?? process.getuid?.() ?? null, exclude: selfAndAncestors() };
        const timeoutMs = (helper ? policy.helperTimeoutSeconds : 30) * 1000;
        let timer: NodeJS.Timeout | undefined;
        // A helper (sudo, runuser) may have forked before its pid was moved: move what it started.
        const exchanged = channel!.exchange(wspec, helper && this.cgroup ? () => this.adoptLaunchedProcesses() : undefined);
        let outcome = await Promise.race([
          exchanged,
          child.exit.then((e) => ({ kind: 'exited-early' as const, code: e.code })),
          new Promise<{ kind: 'timeout' }>((r) => (timer = setTimeout(() => r({ kind: 'timeout' }), timeoutMs))),
          new Promise<{ kind: 'no-connection' }>((r) => (this.#onKill = () => r({ kind: 'no-connection' }))),
        ]);
        // The wrapper writes its record, then exits: its exit and the record's arrival race on
        // this event loop. A proven wrapper's answer is already in the socket (its end closed with
        // it), so read it rather than call a permanent error a retryable WRAPPER_EXIT.
        if (outcome.kind === 'exited-early' && channel!.proven) {
          const early = outcome;
          let grace: NodeJS.Timeout | undefined;
          outcome = await Promise.race([exchanged, new Promise<typeof early>((r) => (grace = setTimeout(() => r(early), RECORD_AFTER_EXIT_MS)))]);
          clearTimeout(grace);
        }
        clearTimeout(timer);
        this.#onKill = null;
        return { child, outcome };
      };
      // Helper launches pass the concurrency limit until the helper has done its authorization.
      const { child, outcome } = helper ? await helperLimiter(policy).run(launch) : await launch();
      if (!child) {
        const e = (outcome as { error: Error }).error;
        return { kind: 'error', error: launchError(helper ? 'helper' : 'wrapper', (e as { code?: string }).code ?? 'EIO', `cannot start ${argv[0]}: ${e.message}`) };
      }
      try {
        if (outcome.kind === 'exec-ok') {
          this.log.info('payload started', { pid: child.pid, uid: this.account?.uid ?? process.getuid?.(), mode: policy.identity });
          if (this.killReason) this.kill(this.killReason);
          if (this.spec.limits.wallclockSeconds !== null) {
            const t = setTimeout(() => {
              this.killDetail = `wallclock limit of ${this.spec.limits.wallclockSeconds} s reached`;
              this.kill('timeout');
            }, this.spec.limits.wallclockSeconds * 1000);
            this.#timers.push(t);
          }
          const e = await child.exit;
          return { kind: 'exited', code: e.code, signal: e.signal };
        }
        // Not started: make sure nothing of it is left, then classify.
        channel!.abandon();
        if (outcome.kind === 'no-connection' && this.killReason) return { kind: 'killed-before-start' };
        if (outcome.kind === 'error') return { kind: 'error', error: outcome.error };
        if (outcome.kind === 'timeout') {
          return { kind: 'error', error: launchError(helper ? 'helper' : 'wrapper', helper ? 'HELPER_TIMEOUT' : 'ETIMEDOUT', `the wrapper did not connect within ${helper ? policy.helperTimeoutSeconds : 30} s`, false) };
        }
        const code = outcome.kind === 'exited-early' ? outcome.code : null;
        if (helper) return { kind: 'error', error: launchError('helper', 'HELPER_REFUSED', `the helper ${argv[0]} exited with code ${code} before starting the wrapper (authorization refused?)`, true) };
        return { kind: 'error', error: launchError('wrapper', 'WRAPPER_EXIT', `the wrapper exited with code ${code} before reporting`, false) };
      } finally {
        await this.reap(child);
      }
    } finally {
      channel?.close();
      await closeStdio();
      await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** How a tty job's output copier becomes the account; null when the agent is the payload's account. */
  ttyCopier(): CopierLaunch | null {
    const { policy } = this.opts;
    if (policy.identity === 'none' || !this.account) return null;
    const self = [...(this.opts.wrapperCommand ?? selfCommand())];
    const timeoutMs = policy.helperTimeoutSeconds * 1000;
    if (policy.identity === 'helper') return { argv: [...expandHelper(policy, this.account), ...self], timeoutMs };
    return { argv: self, uid: this.account.uid, gid: this.account.gid, timeoutMs };
  }

  /** Move every process of the job so far into its cgroup (helper launches, before the spec is sent). */
  adoptLaunchedProcesses(): void {
    if (!this.cgroup || !this.selector) return;
    for (const p of selectJobProcesses(readProcTable(), this.selector)) this.cgroup.adopt(p.pid);
  }

  /** After the main process: SIGKILL whatever of the job is left, until nothing is. */
  async reap(child: ChildProc): Promise<void> {
    const full: JobSelector = this.selector!;
    const exited = await Promise.race([child.exit.then(() => true), sleep(100).then(() => false)]);
    if (!exited) {
      await this.signal('SIGKILL');
      await child.exit;
    }
    for (let round = 0; round < 20; round++) {
      if (this.usesHelperForKills) {
        await this.signal('SIGKILL');
        break;
      }
      const left = selectJobProcesses(readProcTable(), full);
      const inCgroup = this.cgroup?.pids().length ?? 0;
      if (left.length === 0 && inCgroup === 0) break;
      if (round === 0) this.log.info('killing processes the job left behind', { count: left.length, inCgroup });
      await this.signal('SIGKILL');
      await sleep(25);
    }
    if (this.cgroup && !this.cgroup.remove()) this.log.warn('processes of the job are still in its cgroup', { path: this.cgroup.path });
    this.cgroup = null;
    this.child = null;
  }
}

/** Start one job; its result arrives on `handle.result`. */
export function startJob(spec: JobSpec, options: StartJobOptions): JobHandle {
  const job = new Job(spec, options);
  return {
    id: spec.id,
    result: job.run(),
    kill: (reason) => job.kill(reason),
    updateCredential: (cred) => job.updateCredential(cred),
  };
}

/** Run one job to its end: the path `glidein exec` and the pilot's spool both take. */
export function runJob(spec: JobSpec, options: StartJobOptions): Promise<JobResult> {
  return startJob(spec, options).result;
}
