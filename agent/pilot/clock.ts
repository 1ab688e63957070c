// Time as the pilot sees it, injectable so schedules can be tested without waiting.
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run fn after ms; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): CancelTimer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout caps at 2^31-1 ms; longer waits re-arm.
    const MAX = 2_147_000_000;
    let t: NodeJS.Timeout;
    let cancelled = false;
    const arm = (left: number) => {
      t = setTimeout(() => {
        if (cancelled) return;
        if (left > MAX) arm(left - MAX);
        else fn();
      }, Math.max(0, Math.min(left, MAX)));
    };
    arm(ms);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  },
};

/** Resolve after ms on the given clock, or at once when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      cancel();
      resolve();
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
