// The pilot's GPUs (issue 23): the devices validation found this pilot may use, handed out so
// that no device is given to two running jobs at once. Requests are served first come, first
// served: a job asking for more than is free waits, and later requests wait behind it, so a
// job asking for several GPUs is never starved by a stream of one-GPU jobs.

/** The devices one job holds; `release` gives them back (a second call does nothing). */
export interface GpuLease {
  readonly devices: readonly string[];
  release(): void;
}

export type GpuRequest =
  | { kind: 'granted'; lease: GpuLease }
  | { kind: 'too-many'; have: number }
  | { kind: 'aborted' };

interface Waiter {
  n: number;
  grant: (lease: GpuLease) => void;
}

export class GpuPool {
  /** Device ids (UUIDs) in the order validation listed them. */
  readonly devices: readonly string[];
  readonly #free: Set<string>;
  readonly #waiters: Waiter[] = [];

  constructor(devices: readonly string[]) {
    this.devices = [...new Set(devices)];
    this.#free = new Set(this.devices);
  }

  get size(): number {
    return this.devices.length;
  }

  get free(): number {
    return this.#free.size;
  }

  /** Devices held by jobs now. */
  inUse(): string[] {
    return this.devices.filter((d) => !this.#free.has(d));
  }

  /**
   * `n` devices for one job. More than the pilot has can never be granted (`too-many`); more than
   * is free now waits until enough come back. An abort while waiting gives up the place in line.
   */
  async acquire(n: number, signal?: AbortSignal): Promise<GpuRequest> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`GPU count must be a whole number, not ${n}`);
    if (n > this.size) return { kind: 'too-many', have: this.size };
    if (this.#waiters.length === 0 && n <= this.#free.size) return { kind: 'granted', lease: this.#take(n) };
    if (signal?.aborted) return { kind: 'aborted' };
    return new Promise<GpuRequest>((resolve) => {
      const waiter: Waiter = {
        n,
        grant: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ kind: 'granted', lease });
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve({ kind: 'aborted' });
        this.#serve(); // the head may have been the one that blocked smaller requests
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #take(n: number): GpuLease {
    const devices = this.devices.filter((d) => this.#free.has(d)).slice(0, n);
    for (const d of devices) this.#free.delete(d);
    let released = false;
    return {
      devices,
      release: () => {
        if (released) return;
        released = true;
        for (const d of devices) this.#free.add(d);
        this.#serve();
      },
    };
  }

  #serve(): void {
    while (this.#waiters.length > 0 && this.#waiters[0]!.n <= this.#free.size) {
      const w = this.#waiters.shift()!;
      w.grant(this.#take(w.n));
    }
  }
}
