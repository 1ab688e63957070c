// Supervising condor_master (issue 14, item 3). It runs in the foreground (-f) in its own
// session as a child of the agent, with a clean environment: no inherited _CONDOR_* or
// CONDOR_INHERIT (which would make it believe it was started by another HTCondor), only our
// CONDOR_CONFIG. condor_procd lives in the master's process group, so stopping signals the
// master's pid only: SIGTERM (graceful: running jobs are vacated), SIGQUIT after the kill
// grace (fast), SIGKILL last, then a sweep of whatever of its session is left.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.ts';
import { JOB_MARK_VARIABLE, hasEnded, readProcTable, selectJobProcesses, selfAndAncestors, signalJob, type JobSelector } from '../sandbox/process-sweep.ts';

/** How long the sweep waits for the processes it killed to end (a loaded node may take a while). */
const SWEEP_WAIT_MS = 5000;

export interface MasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when it could not be started at all. */
  spawnError: string | null;
}

export interface MasterOptions {
  /** condor_master's path. */
  master: string;
  configFile: string;
  /** The pilot's environment; filtered here. */
  env: NodeJS.ProcessEnv;
  /** stdout and stderr of the master (early errors before its log is open). */
  outputFile: string;
  cwd: string;
  log: Logger;
}

/** Variables that must not reach HTCondor: another HTCondor's settings, preload tricks, the pilot's secrets. */
const DROP_ENV = /^(_CONDOR_.*|CONDOR_INHERIT|CONDOR_CONFIG|CONDOR_PARENT_ID|LD_PRELOAD|LD_AUDIT|NODE_OPTIONS|BEARER_TOKEN.*|GLIDEIN_.*)$/i;

export function masterEnv(env: NodeJS.ProcessEnv, configFile: string, mark: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !DROP_ENV.test(k)) out[k] = v;
  out['CONDOR_CONFIG'] = configFile;
  // The sweep's marker: HTCondor's daemons inherit it, so one that left the session is still found.
  out[JOB_MARK_VARIABLE] = mark;
  return out;
}

export class MasterProcess {
  readonly pid: number;
  readonly exited: Promise<MasterExit>;
  readonly #selector: JobSelector;
  readonly #log: Logger;
  #exit: MasterExit | null = null;

  private constructor(pid: number, exited: Promise<MasterExit>, mark: string, log: Logger) {
    this.pid = pid;
    this.#log = log;
    this.exited = exited.then((e) => (this.#exit = e));
    this.#selector = { sessions: new Set([pid]), mark, uid: process.getuid?.() ?? null, exclude: selfAndAncestors() };
  }

  /** Start condor_master -f in a new session; resolves once it is spawned (or failed to be). */
  static start(o: MasterOptions): Promise<MasterProcess> {
    const mark = randomBytes(16).toString('hex');
    const out = openSync(o.outputFile, 'a', 0o600);
    return new Promise((resolve) => {
      const child = spawn(o.master, ['-f'], { cwd: o.cwd, env: masterEnv(o.env, o.configFile, mark), stdio: ['ignore', out, out], detached: true });
      const exited = new Promise<MasterExit>((r) => {
        child.once('error', (e) => r({ code: null, signal: null, spawnError: `${o.master}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
        child.once('exit', (code, signal) => r({ code, signal, spawnError: null }));
      });
      closeSync(out);
      const m = new MasterProcess(child.pid ?? -1, exited, mark, o.log);
      if (child.pid === undefined) void exited.then(() => resolve(m));
      else child.once('spawn', () => resolve(m));
    });
  }

  get running(): boolean {
    return this.pid > 0 && this.#exit === null;
  }

  #signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Reread the config (START's inputs changed): HTCondor's master reconfigures itself and its daemons on SIGHUP. */
  reconfig(): boolean {
    return this.#signal('SIGHUP');
  }

  async #waitExit(ms: number): Promise<boolean> {
    if (!this.running) return true;
    const t = sleep(ms).then(() => false);
    return Promise.race([this.exited.then(() => true), t]);
  }

  /** SIGTERM to the master only, SIGQUIT after graceS, SIGKILL after as long again, then the sweep. */
  async stop(graceS: number, reason: string): Promise<MasterExit> {
    const steps: [NodeJS.Signals, number][] = [['SIGTERM', graceS * 1000], ['SIGQUIT', Math.max(5000, graceS * 1000)], ['SIGKILL', 5000]];
    for (const [sig, waitMs] of steps) {
      if (!this.running) break;
      this.#log.info('stopping condor_master', { pid: this.pid, signal: sig, reason });
      this.#signal(sig);
      if (await this.#waitExit(waitMs)) break;
    }
    await this.sweep();
    return this.#exit ?? (await this.exited);
  }

  /**
   * SIGKILL whatever of HTCondor is left (its session, its marked processes) and wait, bounded,
   * until each has ended: gone from /proc, or a zombie that only waits for its new parent's
   * wait() (init's; never ours to reap). A killed process stays in /proc a moment after the kill.
   */
  async sweep(): Promise<number> {
    let killed = 0;
    const deadline = Date.now() + SWEEP_WAIT_MS;
    for (let round = 0; ; round++) {
      const left = selectJobProcesses(readProcTable(), this.#selector).filter((p) => !hasEnded(p));
      if (left.length === 0) break;
      if (Date.now() >= deadline) {
        this.#log.error('HTCondor processes still running after SIGKILL', { count: left.length, pids: left.map((p) => p.pid), waitedMs: SWEEP_WAIT_MS });
        break;
      }
      if (round === 0) this.#log.warn('killing HTCondor processes left behind', { count: left.length, pids: left.map((p) => p.pid) });
      killed += signalJob(this.#selector, 'SIGKILL');
      await sleep(50);
    }
    return killed;
  }
}
