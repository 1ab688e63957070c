// The spool (DESIGN.md section 10, contract): every `*.json` file in the directory is a job
// spec; when the job ends, `<name>.result.json` is written beside it and the spec is renamed
// to `<name>.done`. Jobs run in up to `slots` concurrent slots.
import { readdirSync, renameSync, writeFileSync, watch, openSync, fsyncSync, closeSync, constants, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log.ts';
import { errnoCode, isGlideinError } from '../../shared/errors.ts';
import type { Clock, CancelTimer } from './clock.ts';
import type { JobCounts } from './status-client.ts';
import { readSpecFile } from './spec-file.ts';

/** The result object of `glidein exec` (DESIGN.md section 5). */
export interface SpoolJobResult {
  id: string;
  state: 'completed' | 'failed' | 'held' | 'killed';
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  launchError: { stage: string; code: string; message: string; permanent: boolean } | null;
  uid: number | null;
  durationMs: number;
}

export interface LaunchedJob {
  result: Promise<SpoolJobResult>;
  kill(reason: string): void;
}

/** Parse and start one spec (sandbox: parseJobSpec + startJob); throws on a bad spec. null: not taken
 * after all (it waited for GPUs and the pilot stopped taking work): the spec stays for another pilot. */
export type LaunchFn = (value: unknown, where: string, name: string) => LaunchedJob | null | Promise<LaunchedJob | null>;

export interface SpoolOptions {
  dir: string;
  slots: number;
  launch: LaunchFn;
  log: Logger;
  clock: Clock;
  pollMs?: number;
  onJobEnd?: (name: string, result: SpoolJobResult) => void;
  onJobStart?: (name: string) => void;
}

/** `<name>` of a spec file, or undefined when the file is not a pending spec. */
/** At most one scan per this many ms from watch events (the poll timer still runs every pollMs). */
const WATCH_COALESCE_MS = 50;

export function specName(file: string): string | undefined {
  if (!file.endsWith('.json') || file.endsWith('.result.json') || file.startsWith('.')) return undefined;
  return file.slice(0, -'.json'.length);
}

function writeFileAtomic(path: string, data: string): void {
  const tmp = join(path, '..', `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class Spool {
  readonly #o: SpoolOptions;
  readonly #running = new Map<string, LaunchedJob>();
  readonly #seen = new Set<string>();
  readonly #endWaiters: (() => void)[] = [];
  #accepting = false;
  #watcher: FSWatcher | undefined;
  #cancelPoll: CancelTimer | undefined;
  #scanning = false;
  #rescan = false;
  #kickTimer: NodeJS.Timeout | undefined;
  /** When the last job arrived (or the spool started), ms on the clock. */
  lastActivity: number;
  readonly counts: JobCounts = { started: 0, completed: 0, failed: 0, held: 0, killed: 0, running: 0 };

  constructor(options: SpoolOptions) {
    this.#o = options;
    this.lastActivity = options.clock.now();
  }

  get running(): number {
    return this.#running.size;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  start(): void {
    this.#accepting = true;
    this.lastActivity = this.#o.clock.now();
    try {
      this.#watcher = watch(this.#o.dir, { persistent: false }, () => this.#kickSoon());
      this.#watcher.on('error', () => undefined);
    } catch {
      /* polling alone still works */
    }
    this.#poll();
  }

  /** Stop taking new jobs (retire, drain); running jobs continue. */
  stopAccepting(): void {
    this.#accepting = false;
    this.#cancelPoll?.();
    this.#watcher?.close();
    clearTimeout(this.#kickTimer);
    this.#kickTimer = undefined;
    this.#watcher = undefined;
  }

  /** Kill every running job with this reason (the sandbox escalates SIGTERM → grace → SIGKILL). */
  killAll(reason: string): void {
    for (const job of this.#running.values()) job.kill(reason);
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#endWaiters.push(resolve));
  }

  #poll(): void {
    this.#kick();
    this.#cancelPoll = this.#o.clock.setTimer(() => {
      if (this.#accepting) this.#poll();
    }, this.#o.pollMs ?? 1000);
  }

  /**
   * A watch event schedules one scan a moment later: whoever can write the spool can make events
   * as fast as it renames files, and a scan per event (readdir + sort) starved the event loop, so
   * refreshes and kills waited behind it (a hostile writer stalled a pilot for 120 s).
   */
  #kickSoon(): void {
    if (this.#kickTimer !== undefined) return;
    this.#kickTimer = setTimeout(() => {
      this.#kickTimer = undefined;
      this.#kick();
    }, WATCH_COALESCE_MS);
    this.#kickTimer.unref();
  }

  #kick(): void {
    if (!this.#accepting) return;
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = true;
    void this.#scan().finally(() => {
      this.#scanning = false;
      if (this.#rescan) {
        this.#rescan = false;
        this.#kick();
      }
    });
  }

  async #scan(): Promise<void> {
    let files: string[];
    try {
      files = readdirSync(this.#o.dir).sort();
    } catch (e) {
      this.#o.log.warn('cannot read the spool directory', { dir: this.#o.dir, error: errnoCode(e) ?? String(e) });
      return;
    }
    for (const file of files) {
      if (!this.#accepting || this.#running.size >= this.#o.slots) return;
      const name = specName(file);
      if (name === undefined || this.#seen.has(name)) continue;
      this.#seen.add(name);
      await this.#startOne(name);
    }
  }

  async #startOne(name: string): Promise<void> {
    const path = join(this.#o.dir, `${name}.json`);
    this.lastActivity = this.#o.clock.now();
    const started = this.#o.clock.now();
    const read = await readSpecFile(path);
    if (read.kind === 'gone') return; // withdrawn before we got to it
    if (read.kind === 'refused') {
      this.#finish(name, this.#heldResult(name, `job spec ${read.message}`, 'GLIDEIN_ERR_JOB_SPEC', started));
      return;
    }
    const value = read.value;
    let job: LaunchedJob | null;
    try {
      job = await this.#o.launch(value, path, name);
    } catch (e) {
      const code = isGlideinError(e) ? e.code : 'GLIDEIN_ERR_LAUNCH';
      this.#finish(name, this.#heldResult(name, (e as Error).message, code, started, value));
      return;
    }
    if (job === null) {
      this.#seen.delete(name);
      this.#o.log.info('job not taken: the pilot stopped taking work while it waited', { job: name });
      return;
    }
    this.#running.set(name, job);
    this.counts.started++;
    this.counts.running = this.#running.size;
    this.#o.onJobStart?.(name);
    this.#o.log.info('job started', { job: name, slotsInUse: this.#running.size, slots: this.#o.slots });
    job.result.then(
      (r) => this.#finish(name, r),
      (e: unknown) => this.#finish(name, this.#heldResult(name, `job failed inside the agent: ${(e as Error).message}`, 'GLIDEIN_ERR_INTERNAL', started, value, false)),
    );
  }

  #heldResult(name: string, message: string, code: string, started: number, spec?: unknown, permanent = true): SpoolJobResult {
    const id = spec && typeof spec === 'object' && typeof (spec as { id?: unknown }).id === 'string' ? (spec as { id: string }).id : name;
    return {
      id,
      state: 'held',
      exitCode: null,
      signal: null,
      reason: message,
      launchError: { stage: code === 'GLIDEIN_ERR_JOB_SPEC' ? 'spec' : 'launch', code, message, permanent },
      uid: null,
      durationMs: this.#o.clock.now() - started,
    };
  }

  #finish(name: string, result: SpoolJobResult): void {
    const dir = this.#o.dir;
    try {
      writeFileAtomic(join(dir, `${name}.result.json`), JSON.stringify(result, null, 2) + '\n');
      renameSync(join(dir, `${name}.json`), join(dir, `${name}.done`));
    } catch (e) {
      this.#o.log.error('cannot write the job result', { job: name, error: errnoCode(e) ?? String(e) });
    }
    this.#running.delete(name);
    this.counts.running = this.#running.size;
    if (result.state === 'completed') this.counts.completed++;
    else if (result.state === 'failed') this.counts.failed++;
    else if (result.state === 'held') this.counts.held++;
    else this.counts.killed++;
    this.lastActivity = this.#o.clock.now();
    this.#o.log.info('job ended', { job: name, state: result.state, exitCode: result.exitCode, reason: result.reason });
    this.#o.onJobEnd?.(name, result);
    if (this.#running.size === 0) for (const w of this.#endWaiters.splice(0)) w();
    this.#kick();
  }
}
