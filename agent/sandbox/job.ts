// One job from its spec to its result (DESIGN.md section 7): identity → credentials → wrapper
// spec → launch attempts with backoff (job-launch.ts) → every process of the job gone
// (job-reap.ts) → credentials wiped → one result. Timers and credential updates: job-supervision.ts.
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.ts';
import type { Credential } from '../../shared/credential.ts';
import type { JobSpec } from './job-spec.ts';
import { resolveIdentity, type IdentityOutcome } from './identity.ts';
import { JobAudit } from '../audit/job-audit.ts';
import type { Account } from './account.ts';
import { buildPayloadEnv } from './environment.ts';
import { gpuEnv } from './gpu-env.ts';
import { gpuDeviceBinds, type DeviceBind } from './gpu-devices.ts';
import type { GpuDeviceCgroup } from './gpu-cgroup.ts';
import type { WrapperSpec } from './channel.ts';
import { backoffMs, launchError, type LaunchError } from './launch-error.ts';
import { loadPty, type PtyModule } from './pty.ts';
import type { JobSelector } from './process-sweep.ts';
import type { JobCgroup } from './cgroup-job.ts';
import type { JobResult, KillReason } from './result.ts';
import type { ChildProc, JobState, StartJobOptions, UpdateResult } from './job-state.ts';
import { attemptLaunch } from './job-launch.ts';
import { cleanupJob, signalJobProcesses } from './job-reap.ts';
import { DEFAULT_CONTAINER_ENTRY } from '../../shared/container-entry.ts';
import { planContainer, type PlannedContainer } from './container-plan.ts';
import { findContainerRuntime } from './container-find.ts';
import { INSIDE_CREDENTIALS, INSIDE_WORKDIR } from './container-runtime.ts';
import { toInside } from './container-paths.ts';
import { armExpiryTimer, clearTimers, credentialDeadline, updateJobCredential } from './job-supervision.ts';

const KILL_REASON_TEXT: Record<KillReason, string> = {
  timeout: 'wallclock limit reached',
  'credential-expired': 'a credential the job carries is about to expire',
  'pilot-shutdown': 'the pilot is shutting down',
  cancelled: 'cancelled',
};

function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

export class Job implements JobState {
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
  identity: IdentityOutcome | null = null;
  readonly audit: JobAudit;
  agentWritesCredentials: boolean;
  credentialsWritten = false;
  writeChain: Promise<unknown> = Promise.resolve();
  child: ChildProc | null = null;
  selector: JobSelector | null = null;
  /** The attempt's own cgroup, where one can be made: ends the job with nothing left behind. */
  cgroup: JobCgroup | null = null;
  gpuCgroup: GpuDeviceCgroup | null = null;
  cgroupConfines = false;
  ended = false;
  /** Set while a launch waits (backoff, wrapper connection): a kill wakes it. */
  onKill: (() => void) | null = null;
  /** Cleared when the job ends: the kill grace and the wallclock limit. */
  readonly timers: NodeJS.Timeout[] = [];
  expiryTimer: NodeJS.Timeout | null = null;
  /** The container the job runs in (issue 22); null: bare. */
  container: PlannedContainer | null = null;
  #escalated = false;

  constructor(spec: JobSpec, opts: StartJobOptions) {
    this.spec = spec;
    this.opts = opts;
    this.log = opts.log.child({ jobId: spec.id });
    this.credentials = [...spec.credentials];
    this.agentWritesCredentials = !(opts.policy.identity === 'helper' && !isRoot());
    this.audit = new JobAudit(this, opts.audit);
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

  kill(reason: KillReason): void {
    if (this.ended) return;
    if (this.killReason === null) {
      this.killReason = reason;
      this.log.info('stopping job', { reason });
    }
    this.onKill?.();
    if (!this.child || !this.selector || this.#escalated) return;
    this.#escalated = true;
    void signalJobProcesses(this, 'SIGTERM');
    const grace = setTimeout(() => void signalJobProcesses(this, 'SIGKILL'), this.opts.policy.killGraceSeconds * 1000);
    this.timers.push(grace);
  }

  updateCredential(cred: Credential): UpdateResult {
    return updateJobCredential(this, cred);
  }

  /** The owner of the job's files: the account, when the agent is root (it can chown). */
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
      clearTimers(this);
      await this.writeChain;
      await cleanupJob(this);
    }
  }

  async runInner(): Promise<JobResult> {
    const ready = await this.preflight();
    if ('done' in ready) return ready.done;
    const bearer = await this.writeCredentials();
    const uid = this.account ? this.account.uid : (process.getuid?.() ?? null);
    const wspec = this.wrapperSpec(bearer);
    armExpiryTimer(this);
    return this.launchWithRetries(wspec, ready.ptyMod, uid);
  }

  /** Before anything is written: the account, the pty a tty job needs, the credentials' lifetime, a kill. */
  async preflight(): Promise<{ done: JobResult } | { ptyMod: PtyModule | null }> {
    const { policy } = this.opts;
    const who = await resolveIdentity(this.spec.identity, policy);
    this.identity = who;
    if (!who.ok) return { done: this.held(who.error) };
    this.account = who.account;
    const unaudited = await this.audit.refusal();
    if (unaudited) return { done: this.result({ state: 'failed', reason: `${unaudited.code}: ${unaudited.message}`, launchError: unaudited }) };
    if (policy.identity === 'setuid' && !isRoot()) {
      return { done: this.held(launchError('identity', 'NOT_ROOT', "policy identity 'setuid' needs the agent to run as root", true)) };
    }
    let ptyMod: PtyModule | null = null;
    if (this.spec.tty) {
      const m = await loadPty();
      if (m instanceof Error) return { done: this.held(launchError('pty', 'PTY_UNAVAILABLE', `tty job, but node-pty cannot load: ${m.message}`, true)) };
      ptyMod = m;
    }
    const deadline = credentialDeadline(this);
    if (deadline && deadline.at <= Date.now()) {
      return { done: this.held(launchError('credentials', 'CREDENTIAL_EXPIRED', `credential '${deadline.purpose}' expires within the policy's ${policy.credentialGraceSeconds} s grace; not started`, true)) };
    }
    const plan = planContainer({
      job: this.spec.container, entry: this.opts.container ?? DEFAULT_CONTAINER_ENTRY, policy: policy.containers, workdir: this.spec.cwd,
      alwaysForbidden: [this.opts.store.root], findRuntime: () => findContainerRuntime(policy.containers.runtime, this.opts.agentEnv ?? process.env),
    });
    if (plan.kind === 'held') return { done: this.held(plan.error) };
    this.container = plan.kind === 'container' ? plan.container : null;
    if (this.killReason) return { done: this.killedResult() };
    return { ptyMod };
  }

  /** Write the job's credentials where the agent can; the path of the first (the bearer token), or null. */
  async writeCredentials(): Promise<string | null> {
    // The agent writes them for the mapped account (root or same uid); a non-root agent in
    // helper mode hands them to the wrapper, which writes them as the user.
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
    return bearer;
  }

  /** What the wrapper is told over the channel: who, what, where, with which environment and stdio. */
  wrapperSpec(bearer: string | null): WrapperSpec {
    const { policy } = this.opts;
    // No cwd given: the account's home (or / when it has none), or the agent's own cwd in none mode.
    const cwd = this.spec.cwd ?? (this.account ? (existsSync(this.account.home) ? this.account.home : '/') : process.cwd());
    const c = this.container;
    // In a container: /srv is the cwd and HOME, and the token is seen at its inside path.
    const user = this.account && c ? { name: this.account.name, home: INSIDE_WORKDIR } : this.account;
    const bearerTokenFile = c && bearer ? `${INSIDE_CREDENTIALS}/${basename(bearer)}` : bearer;
    const env = buildPayloadEnv({ agentEnv: this.opts.agentEnv ?? process.env, user, jobEnv: this.spec.env, cwd: c ? INSIDE_WORKDIR : cwd, bearerTokenFile, tty: this.spec.tty, jobMark: this.jobMark });
    if (c) env['HOME'] = INSIDE_WORKDIR;
    if (this.opts.gpus && !this.opts.keepGpuEnv) Object.assign(env, gpuEnv(this.opts.gpus));
    const argv = [this.spec.executable, ...this.spec.args];
    // In a container the work dir is /srv: its host paths in the command and environment too.
    const seen = c ? toInside(cwd, { executable: this.spec.executable, argv, env }) : { executable: this.spec.executable, argv, env };
    return {
      v: 1,
      jobId: this.spec.id,
      mode: policy.identity,
      user: this.account ? { name: this.account.name, uid: this.account.uid, gid: this.account.gid } : null,
      executable: seen.executable,
      argv: seen.argv,
      env: seen.env,
      cwd,
      umask: 0o077,
      stdio: this.spec.tty ? null : { stdin: this.spec.stdin, stdout: this.spec.stdout, stderr: this.spec.stderr },
      credentials: !this.agentWritesCredentials && this.credentials.length > 0 ? this.credentials.map((c) => ({ name: c.purpose, data: c.token })) : null,
      bearerName: this.credentials[0]?.purpose ?? null,
      container: c ? { ...c, credentialDir: bearer ? dirname(bearer) : null, ...this.containerGpus() } : null,
    };
  }

  /** The job's GPUs in its container (issue 23): their device nodes, and --nv for Apptainer. */
  containerGpus(): { gpuDevices: DeviceBind[]; gpus: true } | Record<string, never> {
    const gpus = this.opts.gpus ?? [];
    return gpus.length ? { gpuDevices: gpuDeviceBinds(gpus, this.opts.gpuPaths), gpus: true } : {};
  }

  /** Up to the policy's launchAttempts launches, with backoff between them; a kill ends the wait. */
  async launchWithRetries(wspec: WrapperSpec, ptyMod: PtyModule | null, uid: number | null): Promise<JobResult> {
    const { policy } = this.opts;
    let last: LaunchError | null = null;
    for (let attempt = 0; attempt < policy.launchAttempts; attempt++) {
      if (attempt > 0) {
        const wait = backoffMs(attempt);
        this.log.info('retrying launch', { attempt: attempt + 1, waitMs: wait, code: last?.code });
        await Promise.race([sleep(wait), new Promise<void>((r) => (this.onKill = r))]);
        this.onKill = null;
      }
      if (this.killReason) return this.killedResult({ uid, launchError: last });
      const a = await attemptLaunch(this, wspec, ptyMod);
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
}
