// The refresher's retry policy in one place (STYLE.md example 9): backoff bounds, the statuses
// worth retrying, and Retry-After parsing.

export interface RetryPolicy {
  /** First backoff ceiling (ms). */
  baseMs: number;
  /** Largest backoff ceiling (ms). */
  capMs: number;
  /** Smallest wait between attempts (ms), so full jitter never spins. */
  floorMs: number;
  /** Statuses worth retrying; other 4xx answers are permanent. */
  retryableStatuses: readonly number[];
}

export const DEFAULT_RETRY: RetryPolicy = {
  baseMs: 1_000,
  capMs: 120_000,
  floorMs: 250,
  retryableStatuses: [401, 408, 425, 429, 500, 502, 503, 504],
};

/** Seconds (possibly fractional) from an HTTP Retry-After value: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}
