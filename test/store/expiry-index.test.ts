import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExpiryIndex } from '../../agent/store/index.ts';
import type { ExpiryEntry } from '../../agent/store/index.ts';

const T0 = 1_800_000_000; // unix seconds

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 * 1000);
});
afterEach(() => vi.useRealTimers());

function collect(index: ExpiryIndex, within: number): ExpiryEntry[] {
  const seen: ExpiryEntry[] = [];
  index.subscribe(within, (e) => seen.push(e));
  return seen;
}

describe('ExpiryIndex', () => {
  it('tells a subscriber when a credential comes within N seconds of expiring, not before', async () => {
    const index = new ExpiryIndex();
    index.set('pilot/scitoken', T0 + 3600);
    const seen = collect(index, 600);
    await vi.advanceTimersByTimeAsync((3000 - 1) * 1000);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual([{ key: 'pilot/scitoken', expiresAt: T0 + 3600 }]);
    await vi.advanceTimersByTimeAsync(10_000 * 1000);
    expect(seen).toHaveLength(1);
  });

  it('fires at once for a credential already inside the window', async () => {
    const index = new ExpiryIndex();
    const seen = collect(index, 600);
    index.set('idtokens/pool', T0 + 60);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([{ key: 'idtokens/pool', expiresAt: T0 + 60 }]);
  });

  it('serves subscribers with different windows, each at its own time and in expiry order', async () => {
    const index = new ExpiryIndex();
    index.set('a', T0 + 1000);
    index.set('b', T0 + 500);
    const early: string[] = [];
    const late: string[] = [];
    index.subscribe(400, (e) => early.push(`${e.key}@${Date.now() / 1000 - T0}`));
    index.subscribe(100, (e) => late.push(`${e.key}@${Date.now() / 1000 - T0}`));
    await vi.advanceTimersByTimeAsync(2000 * 1000);
    expect(early).toEqual(['b@100', 'a@600']);
    expect(late).toEqual(['b@400', 'a@900']);
  });

  it('re-arms when a credential is replaced by a fresher one, and forgets deleted ones', async () => {
    const index = new ExpiryIndex();
    index.set('pilot/c', T0 + 100);
    index.set('jobs/1/bt', T0 + 200);
    const seen = collect(index, 50);
    await vi.advanceTimersByTimeAsync(50 * 1000);
    expect(seen.map((e) => e.key)).toEqual(['pilot/c']);
    index.set('pilot/c', T0 + 1000); // refreshed
    index.deletePrefix('jobs/1/'); // job wiped
    await vi.advanceTimersByTimeAsync(2000 * 1000);
    expect(seen).toEqual([
      { key: 'pilot/c', expiresAt: T0 + 100 },
      { key: 'pilot/c', expiresAt: T0 + 1000 },
    ]);
  });

  it('stops calling after unsubscribe', async () => {
    const index = new ExpiryIndex();
    index.set('k', T0 + 100);
    const seen: ExpiryEntry[] = [];
    const off = index.subscribe(10, (e) => seen.push(e));
    off();
    await vi.advanceTimersByTimeAsync(200 * 1000);
    expect(seen).toEqual([]);
  });

  it('lists expiring credentials soonest first and records non-expiring ones as null', () => {
    const index = new ExpiryIndex();
    index.set('late', T0 + 9);
    index.set('never', null);
    index.set('soon', T0 + 1);
    expect(index.entries()).toEqual([
      { key: 'soon', expiresAt: T0 + 1 },
      { key: 'late', expiresAt: T0 + 9 },
    ]);
    expect(index.get('never')).toBeNull();
    expect(index.get('absent')).toBeUndefined();
  });

  it('keeps serving other subscribers when one callback throws', async () => {
    const index = new ExpiryIndex();
    index.set('k', T0 + 10);
    index.subscribe(60, () => {
      throw new Error('boom');
    });
    const seen = collect(index, 60);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(1);
  });

  it('uses an injected clock and timers', () => {
    let now = 1000;
    const pending: Array<{ cb: () => void; ms: number }> = [];
    const index = new ExpiryIndex({
      now: () => now,
      timers: { setTimeout: (cb, ms) => pending.push({ cb, ms }), clearTimeout: () => undefined },
    });
    const seen: ExpiryEntry[] = [];
    index.subscribe(30, (e) => seen.push(e));
    index.set('k', 1100);
    expect(pending.at(-1)?.ms).toBe(70_000);
    now = 1070;
    pending.at(-1)!.cb();
    expect(seen).toEqual([{ key: 'k', expiresAt: 1100 }]);
  });
});
