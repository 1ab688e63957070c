// The signals `glidein run` drains on (issue 12 item 2). Batch systems and CEs send SIGTERM
// (Slurm, HTCondor, PBS), SIGINT, SIGHUP (a closed session or a CE wrapper's shell), SIGUSR1 and
// SIGUSR2 (LSF's and SGE's warnings before a kill), SIGXCPU (a CPU-time limit): each is a drain.
// SIGQUIT asks for a fast drain (payloads get a short grace), also in the middle of a drain, and
// so does a second drain signal: the CLI's own handlers (which exit at once on a second SIGTERM
// or SIGINT, skipping the SIGKILL of payloads and the wipe) are set aside while `run` owns the
// signals, and put back by dispose().
// Without a handler Node dies on SIGHUP, SIGUSR2, SIGXCPU or SIGQUIT and leaves payloads running
// in their own sessions and every secret on disk.
import type { DrainRequest } from './pilot-options.ts';

export const DRAIN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGXCPU'] as const satisfies readonly NodeJS.Signals[];
export const FAST_DRAIN_SIGNALS = ['SIGQUIT'] as const satisfies readonly NodeJS.Signals[];

export interface DrainSignals {
  /** Aborted at the first drain signal; its reason is a DrainRequest. */
  signal: AbortSignal;
  /** Aborted when a fast drain is asked for (SIGQUIT), before or during a drain. */
  fast: AbortSignal;
  /** Remove the handlers (the command is over). */
  dispose(): void;
}

/** Listen for the drain signals; `also` (the CLI's own SIGTERM/SIGINT signal) drains too. */
export function listenForDrainSignals(also?: AbortSignal, proc: NodeJS.Process = process): DrainSignals {
  const drain = new AbortController();
  const fast = new AbortController();
  const request = (r: DrainRequest) => {
    if (!drain.signal.aborted) drain.abort(r);
    else if (!fast.signal.aborted) fast.abort();
  };
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of DRAIN_SIGNALS) handlers.set(sig, () => request({ signal: sig, fast: false }));
  for (const sig of FAST_DRAIN_SIGNALS) {
    handlers.set(sig, () => {
      request({ signal: sig, fast: true });
      fast.abort();
    });
  }
  const setAside = new Map<NodeJS.Signals, ((...args: unknown[]) => void)[]>();
  for (const [sig, h] of handlers) {
    setAside.set(sig, proc.listeners(sig) as ((...args: unknown[]) => void)[]);
    proc.removeAllListeners(sig);
    proc.on(sig, h);
  }
  // `also` aborted for another reason than a signal (an embedding caller) drains too.
  const forward = () => queueMicrotask(() => {
    if (!drain.signal.aborted) drain.abort({ signal: 'abort', fast: false } satisfies DrainRequest);
  });
  if (also?.aborted) forward();
  else also?.addEventListener('abort', forward, { once: true });
  return {
    signal: drain.signal,
    fast: fast.signal,
    dispose() {
      for (const [sig, h] of handlers) {
        proc.off(sig, h);
        for (const l of setAside.get(sig) ?? []) proc.on(sig, l);
      }
      also?.removeEventListener('abort', forward);
    },
  };
}
