// A concurrency limit for helper invocations (DESIGN.md section 7.2): a mass cancellation must
// not turn into hundreds of simultaneous sudo/glexec authorizations at the site.
export class Limiter {
  readonly max: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.max = max;
  }

  get active(): number {
    return this.#active;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing call hands its slot straight to the next waiter, so the count never overshoots.
    if (this.#active >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

const perPolicy = new WeakMap<object, Limiter>();

/** One limiter per policy object: every job under the same policy shares it. */
export function helperLimiter(policy: { helperConcurrency: number }): Limiter {
  let l = perPolicy.get(policy);
  if (!l) {
    l = new Limiter(policy.helperConcurrency);
    perPolicy.set(policy, l);
  }
  return l;
}
