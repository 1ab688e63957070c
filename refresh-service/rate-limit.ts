// Token-bucket rate limits: one global bucket, one per glidein family. Refusals become
// 429 rate_limited with Retry-After; a refused request spends nothing.

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
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= MAX_TRACKED) this.#sweep(now);
      b = { tokens: this.#spec.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.#spec.burst, b.tokens + (now - b.at) * this.#spec.rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#spec.rate));
  }

  /** Forget buckets that are full again (they behave exactly like new ones). */
  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#spec.rate >= this.#spec.burst) this.#buckets.delete(k);
    }
    if (this.#buckets.size >= MAX_TRACKED) this.#buckets.clear();
  }
}
