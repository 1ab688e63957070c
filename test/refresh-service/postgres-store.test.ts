// The PostgreSQL store against a real PostgreSQL server: the same contract as the SQLite store
// (run here on both, so they cannot drift apart), and the race two instances create: the same
// token settled at the same moment over two connection pools rotates exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';
import { sealingKey } from '../../refresh-service/state/postgres-seal.ts';
import { openPostgresStore } from '../../refresh-service/state/postgres-open.ts';
import type { PostgresStateStore } from '../../refresh-service/state/postgres-store.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';
import { storeContract } from './store-contract.ts';

const skip = skipWithoutPostgres();
let pg: PgCluster;
let dbCount = 0;
const POOL_KEY = randomBytes(32);

async function freshStore(): Promise<PostgresStateStore> {
  const url = await pg.createDatabase(`store_${++dbCount}`);
  return openPostgresStore({ database: url, databasePasswordFile: '' }, { env: { PGPASSWORD: pg.password }, poolKey: POOL_KEY });
}

describe.skipIf(skip)('PostgreSQL store', () => {
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => pg?.stop());

  describe('contract', () => storeContract(freshStore));

  it('keeps pushed VO tokens sealed in the database, readable only with the POOL key', async () => {
    const store = await freshStore();
    try {
      await store.putVoCredential({ name: 'cms', token: 'eyJhbGciOiJFUzI1NiJ9.secret-vo-token.sig', expiresAt: 2_000_000_000, updatedAt: 1 });
      const [row] = await store.sql<{ token: string }[]>`SELECT token FROM vo_credentials WHERE name = 'cms'`;
      expect(row!.token).toMatch(/^v1\./);
      expect(row!.token).not.toContain('secret-vo-token');
      expect((await store.getVoCredential('cms', 1))?.token).toBe('eyJhbGciOiJFUzI1NiJ9.secret-vo-token.sig');
      const other = await openPostgresStore({ database: store.where, databasePasswordFile: '' }, { env: { PGPASSWORD: pg.password }, poolKey: randomBytes(32) });
      await expect(other.getVoCredential('cms', 1)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
      await other.close();
    } finally {
      await store.close();
    }
  });

  it('connects over the unix socket named in the URL (host as a directory)', async () => {
    const url = await pg.createDatabase(`store_${++dbCount}`);
    const db = url.split('/').pop()!;
    for (const socketUrl of [`postgres://${pg.user}@/${db}?host=${pg.socketDir}&port=${pg.port}`, `postgres://${pg.user}@${encodeURIComponent(pg.socketDir)}:${pg.port}/${db}`]) {
      // The test cluster trusts local (socket) connections: no password is given.
      const store = await openPostgresStore({ database: socketUrl, databasePasswordFile: '' }, { env: {} });
      try {
        expect(await store.countActiveFamilies(0)).toBe(0);
      } finally {
        await store.close();
      }
    }
  });

  it('rotates exactly once when two instances settle the same token at the same moment', async () => {
    const a = await freshStore();
    // A second pool on the same database: another instance.
    const b = await openPostgresStore({ database: a.where, databasePasswordFile: '' }, { env: { PGPASSWORD: pg.password } });
    try {
      const now = 1_900_000_000;
      const pilots = 40;
      for (let i = 0; i < pilots; i++) await a.registerFamily({ glideinId: `g-${i}`, entry: 'CE', createdAt: now, expiresAt: now + 3600 }, `h0-${i}`);
      // Half the pilots with the rotation grace, half without; both proofs of a pair have the same
      // iat, so the loser never undoes the winner's answer (issue 26 item 7): 'stale_proof'.
      const grace = (i: number) => (i % 2 === 0 ? 60 : 0);
      const settle = (s: PostgresStateStore, i: number, who: string) =>
        s.settleRefresh({ oldHash: `h0-${i}`, newHash: `h1-${i}-${who}`, jkt: 'k', jti: `${who}-${i}`, jtiExpiresAt: now + 70, now: now + 1, graceSeconds: grace(i) });
      const outcomes = await Promise.all(Array.from({ length: pilots }, (_, i) => Promise.all([settle(a, i, 'a'), settle(b, i, 'b')])));
      outcomes.forEach(([x, y], i) => {
        expect([x.kind, y.kind].sort(), `pilot ${i}, grace ${grace(i)}`).toEqual(['rotated', 'stale_proof']);
      });
      // Exactly one live token per family, and no family revoked.
      const live = await a.sql<{ id: string; n: number }[]>`SELECT glidein_id AS id, count(*)::int8 AS n FROM refresh_tokens WHERE spent_at IS NULL GROUP BY glidein_id`;
      expect(live.map((r) => r.n)).toEqual(Array(pilots).fill(1));
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('SQLite store', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  describe('contract', () =>
    storeContract(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'glidein-store-'));
      dirs.push(dir);
      return new SqliteStateStore(dir, { sealKey: sealingKey(POOL_KEY) });
    }));
});
