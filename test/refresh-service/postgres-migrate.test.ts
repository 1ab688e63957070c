// `glidein refresh-service migrate` and the schema version check, against a real PostgreSQL:
// creation, upgrade of an older schema with its rows kept, instances migrating at once, a
// newer schema refused, and the config errors (a password in the URL, an open password file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, SCHEMA_VERSION } from '../../refresh-service/state/postgres-schema.ts';
import { migrateDatabase, openPostgresStore } from '../../refresh-service/state/postgres-open.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';
import { runCli } from '../helpers/run-cli.ts';

const skip = skipWithoutPostgres();
let pg: PgCluster;
let dir: string;
let n = 0;

async function configFor(database: string, extra: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, `rs-${++n}.json`);
  await writeFile(file, JSON.stringify({ database, ...extra }));
  return file;
}

const migrate = (file: string, env: NodeJS.ProcessEnv = { ...process.env, PGPASSWORD: pg.password }) =>
  runCli(['refresh-service', 'migrate', '--config', file], { source: true, env });

describe.skipIf(skip)('refresh-service migrate', () => {
  beforeAll(async () => {
    pg = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'glidein-migrate-'));
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the schema on an empty database, then finds it up to date', async () => {
    const file = await configFor(await pg.createDatabase('m_empty'));
    const first = await migrate(file);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ from: 0, to: SCHEMA_VERSION });
    const again = await migrate(file);
    expect(JSON.parse(again.stdout)).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  });

  it('upgrades a version-1 schema in place, keeping its rows', async () => {
    const url = await pg.createDatabase('m_old');
    const sql = pg.connect('m_old');
    await sql.unsafe(MIGRATIONS[0]!);
    await sql`CREATE TABLE glidein_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
    await sql`INSERT INTO glidein_schema (id, version) VALUES (1, 1)`;
    await sql`INSERT INTO families (glidein_id, entry, created_at, expires_at) VALUES ('g-old', 'CE', 1, 2000000000)`;
    await sql`INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES ('h-old', 'g-old', 1)`;
    const r = await migrate(await configFor(url));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: 1, to: SCHEMA_VERSION });
    const store = await openPostgresStore({ database: url, databasePasswordFile: '' }, { migrate: false, env: { PGPASSWORD: pg.password } });
    try {
      expect(await store.peekToken('h-old')).toMatchObject({ spent: false, spentAt: null, family: { glideinId: 'g-old' } });
      const out = await store.settleRefresh({ oldHash: 'h-old', newHash: 'h-new', jkt: 'k', jti: 'j', jtiExpiresAt: 100, now: 10, graceSeconds: 60 });
      expect(out.kind).toBe('rotated');
    } finally {
      await store.close();
    }
  });

  it('lets instances starting at the same moment migrate once, under the lock', async () => {
    const url = await pg.createDatabase('m_race');
    const results = await Promise.all(Array.from({ length: 6 }, () => migrateDatabase({ database: url, databasePasswordFile: '' }, { env: { PGPASSWORD: pg.password } })));
    expect(results.filter((x) => x.from === 0)).toHaveLength(1);
    expect(results.every((x) => x.to === SCHEMA_VERSION)).toBe(true);
  });

  it('refuses a schema newer than this release knows, in migrate and when an instance opens it', async () => {
    const url = await pg.createDatabase('m_new');
    const file = await configFor(url);
    expect((await migrate(file)).code).toBe(0);
    await pg.connect('m_new')`UPDATE glidein_schema SET version = ${SCHEMA_VERSION + 1}`;
    const r = await migrate(file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than the ${SCHEMA_VERSION} this glidein knows`);
    for (const migrateFirst of [true, false]) {
      await expect(openPostgresStore({ database: url, databasePasswordFile: '' }, { migrate: migrateFirst, env: { PGPASSWORD: pg.password } }))
        .rejects.toMatchObject({ code: 'GLIDEIN_ERR_STATE', message: expect.stringContaining('newer than') });
    }
  });

  it('reads the password from a 0600 databasePasswordFile, and refuses one others can read (exit 2)', async () => {
    const url = await pg.createDatabase('m_pwfile');
    const pw = join(dir, 'pw');
    await writeFile(pw, pg.password + '\n', { mode: 0o600 });
    const env = { ...process.env, PGPASSWORD: '' };
    const ok = await migrate(await configFor(url, { databasePasswordFile: pw }), env);
    expect(ok.code, ok.stderr).toBe(0);
    await chmod(pw, 0o644);
    const open = await migrate(await configFor(url, { databasePasswordFile: pw }), env);
    expect(open.code).toBe(2);
    expect(open.stderr).toContain(pw);
  });

  it('exits 2 naming the key for a URL with a password or no database, never echoing the password', async () => {
    const withPw = await migrate(await configFor(`postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}/postgres`));
    expect(withPw.code).toBe(2);
    expect(withPw.stderr).toMatch(/database: the URL holds a password/);
    expect(withPw.stderr).not.toContain(pg.password);
    const none = await migrate(await configFor('', {}));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/database: expected a PostgreSQL URL/);
  });

  it('fails with exit 1 and the database named when the password is wrong, never printing it', async () => {
    const r = await migrate(await configFor(pg.url('postgres')), { ...process.env, PGPASSWORD: 'wrong-password-123' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(pg.url('postgres'));
    expect(r.stderr).not.toContain('wrong-password-123');
  });
});
