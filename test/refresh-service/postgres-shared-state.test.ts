// What instances on one PostgreSQL share besides the store: S-CRED signing keys (sealed under
// the POOL key; one instance's rotation used by all) and the admin token's hash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openSharedState, adminTokenHashFor, type SharedState } from '../../refresh-service/state/postgres-context.ts';
import { SigningKeyWatcher } from '../../refresh-service/signing-keys.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';

const skip = skipWithoutPostgres();
let pg: PgCluster;
const POOL = randomBytes(32);

describe.skipIf(skip)('state shared through PostgreSQL', () => {
  const open: SharedState[] = [];
  let url: string;
  const instance = async (poolKey = POOL) => {
    process.env['PGPASSWORD'] = pg.password;
    const s = await openSharedState({ database: url, databasePasswordFile: '' }, poolKey);
    open.push(s);
    return s;
  };
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase('shared');
  }, 120_000);
  afterAll(async () => {
    await Promise.all(open.map((s) => s.store.close()));
    await pg?.stop();
  });

  it('gives instances starting together one signing key, and one instance\'s rotation to all', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    expect(a.signingKeys.active.kid).toBe(b.signingKeys.active.kid);
    const watcher = new SigningKeyWatcher(b.keySource, b.signingKeys, 0);
    const rotatedBy = new SigningKeyWatcher(a.keySource, a.signingKeys, 0);
    const before = a.signingKeys.active.kid;
    await new Promise((r) => setTimeout(r, 5)); // a later created_at
    const fresh = await a.keySource.rotate();
    expect((await watcher.fresh()).active.kid).toBe(fresh.kid);
    expect((await rotatedBy.fresh()).active.kid).toBe(fresh.kid);
    expect((await watcher.fresh()).published.map((k) => k.kid)).toEqual([fresh.kid, before]);
    const c = await instance();
    expect(c.signingKeys.active.kid).toBe(fresh.kid);
  });

  it('keeps private keys sealed: the database alone does not hold them, another POOL key cannot open them', async () => {
    const rows = await pg.connect('shared')<{ sealed: string }[]>`SELECT sealed FROM signing_keys`;
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      expect(r.sealed).not.toContain('"d"');
    }
    await expect(instance(randomBytes(32))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE', message: expect.stringContaining('same poolSigningKeyFile') });
  });

  it('checks admin requests on every instance against the first instance\'s token', async () => {
    const [a, b] = [await instance(), await instance()];
    const first = await adminTokenHashFor(a.store, 'token-of-the-first-instance-xxxxxxxxxxxxxxxxxx');
    const second = await adminTokenHashFor(b.store, 'another-token-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy');
    expect(second.equals(first)).toBe(true);
  });
});
