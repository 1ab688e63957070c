// `glidein run --spool DIR` as a payload source: job spec files in, result files out, in slots
// from the usable cores (DESIGN.md section 10). Ends on its own at the idle timeout, or when
// retired with nothing left running.
import { emptyCounts, type PayloadContext, type PayloadEnd, type PayloadSource, type PayloadStopReason } from './payload-source.ts';
import { Spool, type LaunchFn } from './spool.ts';
import { usableCores, validatedGpus } from './validation.ts';
import { GpuPool } from './gpu-pool.ts';
import type { JobCounts } from './status-client.ts';
import type { CancelTimer } from './clock.ts';
import type { LaunchContext } from './pilot-options.ts';

export interface SpoolSourceOptions {
  dir: string;
  idleTimeoutS: number;
  /** Builds the launcher (sandbox: parseJobSpec + startJob) once the store exists. */
  makeLaunch: (ctx: LaunchContext) => LaunchFn | Promise<LaunchFn>;
  /** Number of slots; default the usable cores from validation. */
  slots?: number | undefined;
  pollMs?: number | undefined;
}

/** How often the idle timeout is checked. */
const IDLE_CHECK_MS = 500;

export class SpoolSource implements PayloadSource {
  readonly kind = 'spool';
  readonly done: Promise<PayloadEnd>;
  readonly #o: SpoolSourceOptions;
  #resolve!: (e: PayloadEnd) => void;
  #spool: Spool | undefined;
  #retired = false;
  #cancelCheck: CancelTimer | undefined;
  readonly #stopTaking = new AbortController();

  constructor(options: SpoolSourceOptions) {
    this.#o = options;
    this.done = new Promise((r) => (this.#resolve = r));
  }

  async start(ctx: PayloadContext): Promise<void> {
    const gpus = new GpuPool(validatedGpus(ctx.validation));
    const launch = await this.#o.makeLaunch({ store: ctx.store, log: ctx.log, signal: ctx.signal, workdir: ctx.workdir, env: ctx.env, gpus, stopTaking: this.#stopTaking.signal, ...(ctx.container ? { container: ctx.container } : {}), ...(ctx.pilot ? { pilot: ctx.pilot } : {}) });
    const slots = this.#o.slots ?? usableCores(ctx.validation) ?? 1;
    this.#spool = new Spool({
      dir: this.#o.dir,
      slots,
      launch,
      log: ctx.log.child({ component: 'spool' }),
      clock: ctx.clock,
      ...(this.#o.pollMs !== undefined ? { pollMs: this.#o.pollMs } : {}),
      onJobStart: (name) => ctx.onJobStart(name),
      onJobEnd: (name, r) => ctx.onJobEnd(name, r),
    });
    ctx.log.info('spool started', { dir: this.#o.dir, slots, gpus: gpus.size, idleTimeoutS: this.#o.idleTimeoutS });
    this.#spool.start();
    this.#watchIdle(ctx);
  }

  /** Idle timeout: no job running and none arrived for that long. Retired and empty also ends. */
  #watchIdle(ctx: PayloadContext): void {
    const spool = this.#spool!;
    const check = () => {
      if (spool.running === 0 && ctx.clock.now() - spool.lastActivity >= this.#o.idleTimeoutS * 1000) this.#resolve({ kind: 'idle-timeout' });
      else if (this.#retired && spool.running === 0) this.#resolve({ kind: 'retired-and-empty' });
      else this.#cancelCheck = ctx.clock.setTimer(check, IDLE_CHECK_MS);
    };
    this.#cancelCheck = ctx.clock.setTimer(check, IDLE_CHECK_MS);
  }

  retire(): void {
    this.#retired = true;
    this.#stopTaking.abort();
    this.#spool?.stopAccepting();
  }

  /** Kill every running job with the reason; the sandbox escalates SIGTERM → policy grace → SIGKILL. */
  async stop(reason: PayloadStopReason, _graceS: number): Promise<void> {
    this.#cancelCheck?.();
    this.#stopTaking.abort();
    const spool = this.#spool;
    if (!spool) return;
    spool.stopAccepting();
    if (spool.running > 0) {
      spool.killAll(reason === 'credential-expired' ? 'credential-expired' : 'pilot-shutdown');
      await spool.idle();
    }
  }

  counts(): JobCounts {
    return this.#spool ? { ...this.#spool.counts } : emptyCounts();
  }
}
