// The StateStore contract for what the operator views read (pilots, validation summaries,
// refresh counts per entry and hour), run on SQLite and PostgreSQL through storeContract.
import { expect, it } from 'vitest';
import type { StateStore } from '../../refresh-service/state/store.ts';

const T0 = 1_900_000_000;
const DAY = 86400;

/** The operator cases; `withStore` runs a case on a fresh store (store-contract.ts). */
export function operatorStoreContract(withStore: (fn: (s: StateStore) => Promise<void>) => () => Promise<void>): void {
  const register = (s: StateStore, id: string, hash: string, entry: string) =>
    s.registerFamily({ glideinId: id, entry, createdAt: T0, expiresAt: T0 + 7 * DAY }, hash);
  const settle = (s: StateStore, oldHash: string, newHash: string, now: number) =>
    s.settleRefresh({ oldHash, newHash, jkt: 'k1', jti: `jti-${oldHash}-${Math.random()}`, jtiExpiresAt: now + 70, now, graceSeconds: 0 });

  it('lists pilots with their binding, last refresh, last report and validation summary, by entry or id', withStore(async (s) => {
    await register(s, 'g-b', 'b0', 'CE_B');
    await register(s, 'g-a', 'a0', 'CE_A');
    await settle(s, 'a0', 'a1', T0 + 10);
    await settle(s, 'a1', 'a2', T0 + 40);
    await s.recordStatus('g-a', '{"state":"running"}', T0 + 50);
    await s.recordValidation('g-a', '{"status":"ERROR"}', T0 + 20);
    const all = await s.listPilots({});
    expect(all.map((p) => p.glideinId)).toEqual(['g-a', 'g-b']);
    expect(all[0]).toEqual({
      glideinId: 'g-a', entry: 'CE_A', createdAt: T0, expiresAt: T0 + 7 * DAY, revokedAt: null, revokeReason: null, jkt: 'k1',
      boundAt: T0 + 10, lastRefreshAt: T0 + 40, statusReport: '{"state":"running"}', statusAt: T0 + 50, validation: '{"status":"ERROR"}', validatedAt: T0 + 20,
    });
    expect(all[1]).toMatchObject({ glideinId: 'g-b', boundAt: null, lastRefreshAt: null, statusReport: null, validation: null });
    expect((await s.listPilots({ entry: 'CE_B' })).map((p) => p.glideinId)).toEqual(['g-b']);
    expect((await s.listPilots({ glideinId: 'g-a' })).map((p) => p.entry)).toEqual(['CE_A']);
    expect(await s.listPilots({ glideinId: 'nobody' })).toEqual([]);
  }));

  it('lists when a pilot was refreshed, newest first, not counting its registration', withStore(async (s) => {
    await register(s, 'g-r', 'r0', 'CE_A');
    expect(await s.refreshTimes('g-r', 10)).toEqual([]);
    await settle(s, 'r0', 'r1', T0);
    await settle(s, 'r1', 'r2', T0 + 40);
    await settle(s, 'r2', 'r3', T0 + 90);
    expect(await s.refreshTimes('g-r', 10)).toEqual([T0 + 90, T0 + 40, T0]);
    expect(await s.refreshTimes('g-r', 2)).toEqual([T0 + 90, T0 + 40]);
    expect(await s.refreshTimes('nobody', 10)).toEqual([]);
  }));

  it('counts live families per entry', withStore(async (s) => {
    await register(s, 'a-1', 'a1', 'CE_A');
    await register(s, 'a-2', 'a2', 'CE_A');
    await register(s, 'b-1', 'b1', 'CE_B');
    await s.revokeByGlideinId('b-1', 'by test', T0);
    expect(await s.countActiveByEntry(T0)).toEqual({ CE_A: 2 });
    expect(await s.countActiveByEntry(T0 + 8 * DAY)).toEqual({});
  }));

  it('sums refresh counts per entry and hour and drops hours older than asked', withStore(async (s) => {
    const h = T0 - (T0 % 3600);
    await s.addRefreshCounts([{ entry: 'CE_A', hour: h, ok: 3, failed: 1 }, { entry: 'CE_B', hour: h - 3600, ok: 1, failed: 0 }], h - 2 * DAY);
    await s.addRefreshCounts([{ entry: 'CE_A', hour: h, ok: 2, failed: 2 }], h - 2 * DAY);
    expect(await s.refreshCounts(h - 3600)).toEqual([{ entry: 'CE_A', hour: h, ok: 5, failed: 3 }, { entry: 'CE_B', hour: h - 3600, ok: 1, failed: 0 }]);
    expect(await s.refreshCounts(h)).toEqual([{ entry: 'CE_A', hour: h, ok: 5, failed: 3 }]);
    await s.addRefreshCounts([], h);
    expect(await s.refreshCounts(0)).toEqual([{ entry: 'CE_A', hour: h, ok: 5, failed: 3 }]);
  }));
}
