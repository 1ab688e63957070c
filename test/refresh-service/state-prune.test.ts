// State stays bounded: spent refresh tokens are pruned after the grace, live ones never.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';

const GRACE = 3600;

describe('state pruning', () => {
  it('forgets tokens spent longer ago than the grace, keeps recent ones and the live one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glidein-prune-'));
    const store = new SqliteStateStore(dir);
    try {
      const t0 = 1_900_000_000;
      await store.registerFamily({ glideinId: 'g-1', entry: 'CE', createdAt: t0, expiresAt: t0 + 7 * 86400 }, 'h0');
      // Three rotations: h0 spent at t0+10, h1 at t0+GRACE+20, h2 at t0+GRACE+30; h3 is live.
      const rotations: [string, string, number][] = [['h0', 'h1', t0 + 10], ['h1', 'h2', t0 + GRACE + 20], ['h2', 'h3', t0 + GRACE + 30]];
      for (const [oldHash, newHash, now] of rotations) {
        const out = await store.settleRefresh({ oldHash, newHash, jkt: 'jkt-1', jti: `jti-${now}`, jtiExpiresAt: now + 60, now, graceSeconds: 0 });
        expect(out.kind).toBe('rotated');
      }
      await store.prune(t0 + GRACE + 40, GRACE);
      expect(await store.peekToken('h0')).toBeUndefined();
      expect((await store.peekToken('h1'))?.spent).toBe(true);
      expect((await store.peekToken('h2'))?.spent).toBe(true);
      expect((await store.peekToken('h3'))?.spent).toBe(false);
      await store.prune(t0 + 10 * GRACE, GRACE);
      const db = new DatabaseSync(join(dir, 'state.db'));
      expect(db.prepare('SELECT hash FROM refresh_tokens').all().map((r) => r['hash'])).toEqual(['h3']);
      db.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
