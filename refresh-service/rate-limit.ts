// Token-bucket rate limits: one global bucket, one per glidein family, one per client address
// (charged by refusals only). Refusals become 429 rate_limited with Retry-After; a refused
// request spends nothing.

export interface BucketSpec {
  /** Tokens added per second. */
  rate: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_TRACKED = 100_000;

/**
 * Re-grants of one spent token to one key (issue 26 item 2): a lost answer is re-granted once,
 * seldom twice; a client that re-presents its spent token again and again (one that cannot store what it is
 * given: a full disk) is a storm, and each re-grant mints credentials for nothing. Three at
 * once, then one a minute.
 */
export const REGRANT_LIMIT: BucketSpec = { rate: 1 / 60, burst: 3 };

export class RateLimiter {
  readonly #spec: BucketSpec;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(spec: BucketSpec, now: () => number = () => performance.now() / 1000) {
    this.#spec = spec;
    this.#now = now;
  }

  /** 0 if allowed (one token taken), else the seconds to wait before retrying. */
  take(key: string): number {
    const b = this.#refill(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return this.#waitFor(b);
  }

  /** Like take, but takes nothing: 0 if a token is there, else the seconds until one is. */
  check(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return 0;
    return b.tokens + (this.#now() - b.at) * this.#spec.rate >= 1 ? 0 : this.#waitFor(b);
  }

  #waitFor(b: Bucket): number {
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#spec.rate));
  }

  #refill(key: string): Bucket {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= MAX_TRACKED) this.#sweep(now);
      b = { tokens: this.#spec.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.#spec.burst, b.tokens + (now - b.at) * this.#spec.rate);
    b.at = now;
    return b;
  }

  /** Forget buckets that are full again (they behave exactly like new ones). */
  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#spec.rate >= this.#spec.burst) this.#buckets.delete(k);
    }
    if (this.#buckets.size >= MAX_TRACKED) this.#buckets.clear();
  }
}
