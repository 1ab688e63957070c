// The StateStore contract as table-driven cases, run against every implementation (SQLite and
// PostgreSQL) so both decide every refresh the same way.
import { expect, it } from 'vitest';
import type { SettleRequest, StateStore } from '../../refresh-service/state/store.ts';
import { operatorStoreContract } from './store-contract-operator.ts';

const T0 = 1_900_000_000;
const DAY = 86400;

let seq = 0;
function req(oldHash: string, newHash: string | null, jkt: string, now = T0 + 10, graceSeconds = 0, proofIat = now): SettleRequest {
  seq++;
  return { oldHash, newHash, jkt, jti: `jti-${seq}-${Math.random()}`, jtiExpiresAt: now + 70, now, graceSeconds, proofIat };
}
const GRACE = 60;

/** Define the contract's `it` cases; `open` gives a store on fresh, empty state each time. */
export function storeContract(open: () => Promise<StateStore>): void {
  const withStore = (fn: (s: StateStore) => Promise<void>) => async () => {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };
  operatorStoreContract(withStore);
  const register = (s: StateStore, id: string, hash: string, entry = 'CE_A', expiresAt = T0 + 7 * DAY) =>
    s.registerFamily({ glideinId: id, entry, createdAt: T0, expiresAt }, hash);

  it('registers a family once and refuses the same glidein id again', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await expect(register(s, 'g-1', 'hx')).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STATE' });
    expect(await s.peekToken('hx')).toBeUndefined();
    expect(await s.getFamily('g-1')).toEqual({ glideinId: 'g-1', entry: 'CE_A', createdAt: T0, expiresAt: T0 + 7 * DAY, revokedAt: null, revokeReason: null, jkt: null });
    expect(await s.peekToken('h0')).toMatchObject({ spent: false, family: { glideinId: 'g-1' } });
  }));

  it('rotates a live token, binds the family to the first key, and spends the old token', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    expect(await s.settleRefresh(req('h0', 'h1', 'k1'))).toMatchObject({ kind: 'rotated', bound: true, family: { jkt: 'k1' } });
    expect((await s.peekToken('h0'))?.spent).toBe(true);
    expect((await s.getFamily('g-1'))?.jkt).toBe('k1');
    expect(await s.settleRefresh(req('h1', 'h2', 'k1'))).toMatchObject({ kind: 'rotated', bound: false });
  }));

  it('revokes the whole family when a spent token is presented again', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1'));
    // With a newer proof than the one h1 was made for (an older or equal one is 'stale_proof').
    expect(await s.settleRefresh(req('h0', 'h9', 'k1', T0 + 20))).toMatchObject({ kind: 'reused', family: { revokeReason: 'refresh token reuse' } });
    expect(await s.settleRefresh(req('h1', 'h2', 'k1', T0 + 21))).toMatchObject({ kind: 'revoked' });
    expect(await s.peekToken('h9')).toBeUndefined();
  }));

  it('refuses a proof from another key without spending the token', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1'));
    expect(await s.settleRefresh(req('h1', 'h2', 'other'))).toMatchObject({ kind: 'wrong_key' });
    expect((await s.peekToken('h1'))?.spent).toBe(false);
    expect(await s.settleRefresh(req('h1', 'h2', 'k1'))).toMatchObject({ kind: 'rotated' });
  }));

  it('refuses a later spent token under a foreign key as wrong_key, revoking nothing (a stranger with an old token cannot kill the pilot)', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1'));
    await s.settleRefresh(req('h1', 'h2', 'k1', T0 + 5));
    expect(await s.settleRefresh(req('h1', 'hx', 'stranger', T0 + 11, GRACE))).toMatchObject({ kind: 'wrong_key' });
    expect(await s.settleRefresh(req('h1', 'hy', 'stranger', T0 + 12))).toMatchObject({ kind: 'wrong_key' });
    expect((await s.getFamily('g-1'))?.revokedAt).toBeNull();
    expect(await s.peekToken('hx')).toBeUndefined();
    expect(await s.settleRefresh(req('h2', 'h3', 'k1', T0 + 13))).toMatchObject({ kind: 'rotated' });
  }));

  it('revokes the family when its first token comes from a second key, whichever key came first (issue 21 item 4)', withStore(async (s) => {
    // The honest pilot first, then whoever else read the bundle.
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'pilot'));
    expect(await s.settleRefresh(req('h0', 'hx', 'thief', T0 + 11, GRACE))).toMatchObject({ kind: 'first_token_reuse', family: { glideinId: 'g-1', revokedAt: T0 + 11, revokeReason: 'first token used by two keys' } });
    expect(await s.getFamily('g-1')).toMatchObject({ revokedAt: T0 + 11, revokeReason: 'first token used by two keys' });
    expect(await s.settleRefresh(req('h1', 'h2', 'pilot', T0 + 12))).toMatchObject({ kind: 'revoked' });
    // The thief first: the honest pilot's first refresh ends the family, and the thief's next one is refused.
    await register(s, 'g-2', 'f0');
    await s.settleRefresh(req('f0', 'f1', 'thief', T0 + 20));
    expect(await s.settleRefresh(req('f0', 'fx', 'pilot', T0 + 21))).toMatchObject({ kind: 'first_token_reuse' });
    expect(await s.settleRefresh(req('f1', 'f2', 'thief', T0 + 22))).toMatchObject({ kind: 'revoked' });
    expect(await s.peekToken('fx')).toBeUndefined();
    // The bound key presenting its own first token again is not this (a lost answer or reuse).
    await register(s, 'g-3', 'e0');
    await s.settleRefresh(req('e0', 'e1', 'pilot', T0 + 30, GRACE));
    expect(await s.settleRefresh(req('e0', 'e1b', 'pilot', T0 + 31, GRACE))).toMatchObject({ kind: 'regranted' });
  }));

  it('re-grants a spent token to the bound key within the grace window, superseding its unused successor', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1', T0 + 10, GRACE));
    // The answer carrying h1 was lost: the pilot asks again with h0 and a new proof.
    expect(await s.settleRefresh(req('h0', 'h1b', 'k1', T0 + 20, GRACE))).toMatchObject({ kind: 'regranted', family: { glideinId: 'g-1' } });
    expect(await s.peekToken('h1')).toMatchObject({ spent: true, spentAt: T0 + 20 });
    expect(await s.peekToken('h1b')).toMatchObject({ spent: false, spentAt: null });
    expect(await s.settleRefresh(req('h0', 'h1c', 'k1', T0 + 30, GRACE))).toMatchObject({ kind: 'regranted' });
    expect((await s.peekToken('h1b'))?.spent).toBe(true);
    expect(await s.settleRefresh(req('h1c', 'h2', 'k1', T0 + 40, GRACE))).toMatchObject({ kind: 'rotated' });
    // The successor was used: the old token is spent for good.
    expect(await s.settleRefresh(req('h0', 'h1d', 'k1', T0 + 41, GRACE))).toMatchObject({ kind: 'reused' });
    expect(await s.peekToken('h1d')).toBeUndefined();
  }));

  it('never lets a request with an older or equal proof undo the newer answer (issue 26 item 7)', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    // B (proof iat T0+20) committed first; A (proof iat T0+15, slower) commits after it.
    expect(await s.settleRefresh(req('h0', 'hB', 'k1', T0 + 21, GRACE, T0 + 20))).toMatchObject({ kind: 'rotated' });
    expect(await s.settleRefresh(req('h0', 'hA', 'k1', T0 + 22, GRACE, T0 + 15))).toMatchObject({ kind: 'stale_proof', family: { glideinId: 'g-1' } });
    // Equal iat: refused too. Nothing was spent or stored; B's successor works, and so does its next.
    expect(await s.settleRefresh(req('h0', 'hA2', 'k1', T0 + 22, GRACE, T0 + 20))).toMatchObject({ kind: 'stale_proof' });
    expect(await s.peekToken('hA')).toBeUndefined();
    expect(await s.peekToken('hB')).toMatchObject({ spent: false });
    expect(await s.settleRefresh(req('hB', 'hC', 'k1', T0 + 23, GRACE, T0 + 23))).toMatchObject({ kind: 'rotated' });
    // A late stale request after the successor was used: still refused, the family lives.
    expect(await s.settleRefresh(req('h0', 'hA3', 'k1', T0 + 24, GRACE, T0 + 18))).toMatchObject({ kind: 'stale_proof' });
    expect((await s.getFamily('g-1'))?.revokedAt).toBeNull();
    expect(await s.settleRefresh(req('hC', 'hD', 'k1', T0 + 25, GRACE, T0 + 25))).toMatchObject({ kind: 'rotated' });
    // A newer proof within the grace window is a lost answer's retry: re-granted as before.
    expect(await s.settleRefresh(req('hC', 'hD2', 'k1', T0 + 26, GRACE, T0 + 26))).toMatchObject({ kind: 'regranted' });
  }));

  it('treats a superseded successor presented later as reuse', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1', T0 + 10, GRACE));
    await s.settleRefresh(req('h0', 'h1b', 'k1', T0 + 11, GRACE));
    expect(await s.settleRefresh(req('h1', 'h2', 'k1', T0 + 12, GRACE))).toMatchObject({ kind: 'reused' });
  }));

  it('revokes on a spent token after the grace window, measured from the first spending', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    await s.settleRefresh(req('h0', 'h1', 'k1', T0 + 10, GRACE));
    await s.settleRefresh(req('h0', 'h1b', 'k1', T0 + 10 + GRACE - 1, GRACE));
    expect(await s.settleRefresh(req('h0', 'h1c', 'k1', T0 + 10 + GRACE + 1, GRACE))).toMatchObject({ kind: 'reused' });
    await register(s, 'g-2', 'j0');
    await s.settleRefresh(req('j0', 'j1', 'k2', T0 + 10, 0));
    expect(await s.settleRefresh(req('j0', 'j1b', 'k2', T0 + 11, 0))).toMatchObject({ kind: 'reused' });
  }));

  it('revokes bound families silent since a time, by their last status report or else their binding', withStore(async (s) => {
    await register(s, 'talks', 'a0');
    await register(s, 'silent', 'b0');
    await register(s, 'unbound', 'c0');
    await register(s, 'gone', 'd0');
    for (const [h, n] of [['a0', 'a1'], ['b0', 'b1'], ['d0', 'd1']]) await s.settleRefresh(req(h!, n!, 'k', T0 + 10));
    await s.recordStatus('talks', '{}', T0 + 500);
    await s.revokeByGlideinId('gone', 'by test', T0 + 20);
    expect(await s.revokeSilentFamilies(T0 + 100, 'no heartbeat', T0 + 1000)).toEqual([{ glideinId: 'silent', entry: 'CE_A' }]);
    expect(await s.getFamily('silent')).toMatchObject({ revokedAt: T0 + 1000, revokeReason: 'no heartbeat' });
    expect((await s.getFamily('gone'))?.revokeReason).toBe('by test');
    expect(await s.revokeSilentFamilies(T0 + 600, 'no heartbeat', T0 + 1000)).toEqual([{ glideinId: 'talks', entry: 'CE_A' }]);
    expect((await s.getFamily('unbound'))?.revokedAt).toBeNull();
  }));

  it('refuses a replayed jti before looking at the token, and remembers jtis from status requests', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    const first = req('h0', 'h1', 'k1');
    expect((await s.settleRefresh(first)).kind).toBe('rotated');
    expect(await s.settleRefresh({ ...first, oldHash: 'h1', newHash: 'h2' })).toEqual({ kind: 'replayed_jti' });
    expect((await s.peekToken('h1'))?.spent).toBe(false);
    expect(await s.recordJti('status-jti', T0 + 100, T0)).toBe(true);
    expect(await s.recordJti('status-jti', T0 + 100, T0)).toBe(false);
    expect(await s.settleRefresh({ ...req('h1', 'h2', 'k1'), jti: 'status-jti' })).toEqual({ kind: 'replayed_jti' });
  }));

  it('answers unknown, revoked and expired without rotating', withStore(async (s) => {
    expect(await s.settleRefresh(req('nope', 'h1', 'k1'))).toEqual({ kind: 'unknown' });
    await register(s, 'g-old', 'o0', 'CE_A', T0 + 5);
    expect(await s.settleRefresh(req('o0', 'o1', 'k1'))).toMatchObject({ kind: 'expired' });
    await register(s, 'g-rev', 'r0');
    expect(await s.revokeByGlideinId('g-rev', 'by test', T0)).toBe(1);
    expect(await s.revokeByGlideinId('g-rev', 'by test', T0)).toBe(0);
    expect(await s.settleRefresh(req('r0', 'r1', 'k1'))).toMatchObject({ kind: 'revoked', family: { revokeReason: 'by test' } });
    await register(s, 'g-live', 'l0');
    expect(await s.settleRefresh(req('l0', null, 'k1'))).toEqual({ kind: 'unknown' });
    expect((await s.peekToken('l0'))?.spent).toBe(false);
  }));

  it('revokes every live family of an entry and counts the active ones', withStore(async (s) => {
    await register(s, 'a-1', 'a1', 'CE_A');
    await register(s, 'a-2', 'a2', 'CE_A');
    await register(s, 'b-1', 'b1', 'CE_B');
    expect(await s.countActiveFamilies(T0)).toBe(3);
    expect(await s.revokeByEntry('CE_A', 'entry drained', T0)).toBe(2);
    expect(await s.countActiveFamilies(T0)).toBe(1);
    expect(await s.countActiveFamilies(T0 + 8 * DAY)).toBe(0);
  }));

  it('keeps the last status report of a glidein', withStore(async (s) => {
    await register(s, 'g-1', 'h0');
    expect(await s.getStatus('g-1')).toBeUndefined();
    await s.recordStatus('g-1', '{"state":"idle"}', T0 + 1);
    await s.recordStatus('g-1', '{"state":"busy"}', T0 + 2);
    expect(await s.getStatus('g-1')).toEqual({ report: '{"state":"busy"}', at: T0 + 2 });
  }));

  it('stores the latest VO credential under a name and hides it once expired', withStore(async (s) => {
    await s.putVoCredential({ name: 'cms', token: 't1', expiresAt: T0 + 100, updatedAt: T0 });
    await s.putVoCredential({ name: 'cms', token: 't2', expiresAt: T0 + 200, updatedAt: T0 + 1 });
    expect(await s.getVoCredential('cms', T0 + 150)).toEqual({ name: 'cms', token: 't2', expiresAt: T0 + 200, updatedAt: T0 + 1 });
    expect(await s.getVoCredential('cms', T0 + 200)).toBeUndefined();
    expect(await s.getVoCredential('atlas', T0)).toBeUndefined();
  }));

  it('prunes tokens spent longer ago than the grace and expired families, keeping live tokens', withStore(async (s) => {
    const grace = 3600;
    await register(s, 'g-1', 'h0');
    await register(s, 'g-short', 's0', 'CE_A', T0 + 30);
    await s.settleRefresh(req('h0', 'h1', 'k1', T0 + 10));
    await s.settleRefresh(req('h1', 'h2', 'k1', T0 + grace + 20));
    expect(await s.recordJti('old-jti', T0 + 100, T0)).toBe(true);
    await s.prune(T0 + grace + 40, grace);
    expect(await s.peekToken('h0')).toBeUndefined();
    expect((await s.peekToken('h1'))?.spent).toBe(true);
    expect((await s.peekToken('h2'))?.spent).toBe(false);
    expect(await s.getFamily('g-short')).toBeUndefined();
    expect(await s.peekToken('s0')).toBeUndefined();
    // The jti expired before the prune: forgotten, so it counts as new again.
    expect(await s.recordJti('old-jti', T0 + 100, T0)).toBe(true);
  }));

  it('hands out round-robin counters in turn, from 0, separately per name', withStore(async (s) => {
    expect(await s.nextRoundRobin('CE_A/VMId')).toBe(0);
    expect(await s.nextRoundRobin('CE_A/VMId')).toBe(1);
    expect(await s.nextRoundRobin('CE_B/VMId')).toBe(0);
    const many = await Promise.all(Array.from({ length: 8 }, () => s.nextRoundRobin('CE_A/VMId')));
    expect(many.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  }));
}
