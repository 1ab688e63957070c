// The pilot's end conditions (DESIGN.md section 10): they race and the first one wins. A drain
// signal, the payload source ending on its own, C-CRED expiry, the bundle's maximum lifetime,
// and the batch system's own end (retire before it, drain early enough that the kill grace and
// a margin fit before the batch system kills the job).
import type { Logger } from '../../shared/log.ts';
import type { CancelTimer, Clock } from './clock.ts';
import type { PayloadEnd, PayloadSource } from './payload-source.ts';
import type { BatchEnd } from './batch-end.ts';
import type { PilotEndReason } from './pilot-options.ts';

export interface PilotEnd {
  reason: PilotEndReason;
  code: number;
}

export interface SupervisorOptions {
  clock: Clock;
  log: Logger;
  /** The bundle's maximum lifetime (unix seconds). */
  lifetimeEndsAt: number;
  batchEnd?: BatchEnd | undefined;
  /** Seconds a drain needs before the batch system's kill: kill grace + margin. */
  drainLeadS: number;
  /** Stop taking new work this long before the drain deadline (default: 10 % of what is left, at most 600 s). */
  retireMarginS?: number | undefined;
  /** Aborted to drain (a signal). */
  signal: AbortSignal;
  /** Called once when the pilot retires (takes no new work). */
  onRetire(why: string): void;
}

/** When the pilot must be drained, and why (whichever of the bundle's lifetime and the batch end comes first). */
export function drainDeadline(o: Pick<SupervisorOptions, 'lifetimeEndsAt' | 'batchEnd' | 'drainLeadS'>): { atS: number; reason: 'max-lifetime' | 'batch-end' } {
  const batchAt = o.batchEnd ? o.batchEnd.endsAt - o.drainLeadS : Infinity;
  return batchAt < o.lifetimeEndsAt ? { atS: batchAt, reason: 'batch-end' } : { atS: o.lifetimeEndsAt, reason: 'max-lifetime' };
}

export class Supervisor {
  readonly ended: Promise<PilotEnd>;
  readonly #o: SupervisorOptions;
  readonly #timers: CancelTimer[] = [];
  #resolve!: (e: PilotEnd) => void;
  #end: PilotEnd | undefined;
  #deadlineReason: 'max-lifetime' | 'batch-end' = 'max-lifetime';
  #retired = false;
  /** How a pilot retired early ends once its work is done (a failing periodic script: exit 1). */
  #retiredEnd: PilotEnd | null = null;
  #onAbort = () => this.end('signal', 0);

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.ended = new Promise((r) => (this.#resolve = r));
  }

  /** The first end wins; later ones are ignored. */
  end(reason: PilotEndReason, code: number): void {
    if (this.#end) return;
    this.#end = { reason, code };
    this.#resolve(this.#end);
  }

  /** Take no new work, once; `end`: how the pilot then ends when its work is done (default: the deadline's). */
  retire(why: string, end?: PilotEnd): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#retiredEnd = end ?? null;
    this.#o.onRetire(why);
  }

  get endedWith(): PilotEnd | undefined {
    return this.#end;
  }

  /** Arm the drain signal, the retire and drain deadlines, and watch the source. */
  start(source: PayloadSource): void {
    const { clock, log } = this.#o;
    if (this.#o.signal.aborted) this.#onAbort();
    else this.#o.signal.addEventListener('abort', this.#onAbort, { once: true });
    const deadline = drainDeadline(this.#o);
    this.#deadlineReason = deadline.reason;
    const leftS = deadline.atS - clock.now() / 1000;
    const retireMarginS = this.#o.retireMarginS ?? Math.min(600, Math.max(0, leftS * 0.1));
    if (this.#o.batchEnd) log.info('batch system end known', { source: this.#o.batchEnd.source, endsAt: this.#o.batchEnd.endsAt, drainAt: Math.floor(deadline.atS), reason: deadline.reason });
    this.#timers.push(clock.setTimer(() => this.retire(deadline.reason === 'batch-end' ? 'batch system end near' : 'max lifetime near'), Math.max(0, (leftS - retireMarginS) * 1000)));
    this.#timers.push(clock.setTimer(() => this.end(deadline.reason, 0), Math.max(0, leftS * 1000)));
    void source.done.then((e) => this.#sourceEnded(e));
  }

  #sourceEnded(e: PayloadEnd): void {
    if (e.kind === 'idle-timeout') this.end('idle-timeout', 0);
    else if (e.kind === 'retired-and-empty') this.end(this.#retiredEnd?.reason ?? this.#deadlineReason, this.#retiredEnd?.code ?? 0);
    else if (e.kind === 'launch-failed') this.end('launch-failed', 3);
    else this.end('command-exited', e.exitCode === 0 ? 0 : 1);
  }

  stop(): void {
    this.#o.signal.removeEventListener('abort', this.#onAbort);
    for (const cancel of this.#timers.splice(0)) cancel();
  }
}
