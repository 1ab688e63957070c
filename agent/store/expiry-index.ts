// Expiry index of the credential store: the expiry of every stored credential, and
// subscriptions "tell me when something expires within N seconds" for the refresher and the
// kill-before-expiry logic. Clock and timers are injectable so tests can use a fake clock.
import type { Logger } from '../../shared/log.ts';
import { silentLogger } from '../../shared/log.ts';

export interface ExpiryEntry {
  /** `pilot/<name>`, `idtokens/<name>` or `jobs/<id>/<name>`. */
  key: string;
  /** Unix seconds. */
  expiresAt: number;
}

export type ExpiryCallback = (entry: ExpiryEntry) => void;

export interface ExpiryTimers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ExpiryIndexOptions {
  /** Unix seconds; default Date.now()/1000 (vitest fake timers move it). */
  now?: () => number;
  timers?: ExpiryTimers;
  log?: Logger;
}

interface Subscription {
  within: number;
  cb: ExpiryCallback;
  /** key → the expiresAt this subscription was already told about. */
  fired: Map<string, number>;
}

// setTimeout's largest delay; a longer wait is done in several hops.
const MAX_DELAY_MS = 2_147_483_647;

const defaultTimers: ExpiryTimers = {
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class ExpiryIndex {
  readonly #now: () => number;
  readonly #timers: ExpiryTimers;
  readonly #log: Logger;
  readonly #expiry = new Map<string, number | null>();
  readonly #subs = new Set<Subscription>();
  #timer: unknown = undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(options: ExpiryIndexOptions = {}) {
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#timers = options.timers ?? defaultTimers;
    this.#log = options.log ?? silentLogger;
  }

  /** Record (or replace) a credential's expiry; null = does not expire. A new expiry re-arms subscribers. */
  set(key: string, expiresAt: number | null): void {
    if (expiresAt !== null && !Number.isFinite(expiresAt)) throw new TypeError(`expiry of ${key} must be unix seconds or null`);
    this.#expiry.set(key, expiresAt);
    this.#schedule();
  }

  /** The recorded expiry: unix seconds, null (never expires) or undefined (not stored). */
  get(key: string): number | null | undefined {
    return this.#expiry.get(key);
  }

  delete(key: string): void {
    this.#expiry.delete(key);
    for (const s of this.#subs) s.fired.delete(key);
    this.#schedule();
  }

  /** Forget every key that starts with `prefix` (a wiped job: `jobs/<id>/`). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.#expiry.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  /** Every expiring credential, soonest first (non-expiring ones are left out). */
  entries(): ExpiryEntry[] {
    const out: ExpiryEntry[] = [];
    for (const [key, expiresAt] of this.#expiry) if (expiresAt !== null) out.push({ key, expiresAt });
    return out.sort((a, b) => a.expiresAt - b.expiresAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Call `cb` once per credential (and per expiry value) when it is within `withinSeconds` of
   * expiring — at once (on the next timer tick) for one already that close. Returns unsubscribe.
   */
  subscribe(withinSeconds: number, cb: ExpiryCallback): () => void {
    if (!Number.isFinite(withinSeconds) || withinSeconds < 0) throw new TypeError('withinSeconds must be a non-negative number');
    const sub: Subscription = { within: withinSeconds, cb, fired: new Map() };
    this.#subs.add(sub);
    this.#schedule();
    return () => {
      this.#subs.delete(sub);
      this.#schedule();
    };
  }

  /** Stop all timers and forget everything (the pilot is exiting). */
  close(): void {
    this.#closed = true;
    this.#expiry.clear();
    this.#subs.clear();
    this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** The earliest moment (unix seconds) some subscription is due to hear about some credential. */
  #nextDue(): number {
    let next = Infinity;
    for (const s of this.#subs) {
      for (const [key, expiresAt] of this.#expiry) {
        if (expiresAt === null || s.fired.get(key) === expiresAt) continue;
        next = Math.min(next, expiresAt - s.within);
      }
    }
    return next;
  }

  #schedule(): void {
    if (this.#closed) return;
    const due = this.#nextDue();
    if (due === this.#timerAt && this.#timer !== undefined) return;
    this.#clearTimer();
    if (due === Infinity) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil((due - this.#now()) * 1000)));
    this.#timerAt = due;
    const handle = this.#timers.setTimeout(() => this.#fire(), delay);
    // Never keep the process alive just to report an expiry.
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.#timer = handle;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#now();
    for (const s of [...this.#subs]) {
      for (const [key, expiresAt] of [...this.#expiry]) {
        if (expiresAt === null || s.fired.get(key) === expiresAt || expiresAt - s.within > now) continue;
        if (!this.#subs.has(s) || this.#expiry.get(key) !== expiresAt) continue;
        s.fired.set(key, expiresAt);
        try {
          s.cb({ key, expiresAt });
        } catch (e) {
          this.#log.error('expiry subscriber failed', { storePath: key, error: e });
        }
      }
    }
    this.#schedule();
  }
}
