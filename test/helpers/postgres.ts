// A real PostgreSQL server for the tests that need one: a throwaway cluster (initdb) in a temp
// dir, listening on 127.0.0.1 on a free port and on a unix socket in that dir, with password
// (SCRAM) authentication over TCP. As root the server runs as the 'postgres' account (PostgreSQL
// refuses to run as root). One cluster per test file; a database per test (createDatabase).
// Skips with the reason where no PostgreSQL is installed (required in CI).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from './net.ts';
import { skipWithout } from './system-tools.ts';
import { IS_ROOT } from './accounts.ts';

export const PG_USER = 'glidein_test';

export interface PgCluster {
  host: string;
  port: number;
  /** Directory holding the unix socket (.s.PGSQL.<port>). */
  socketDir: string;
  user: string;
  password: string;
  /** The `database` config value for `db` (no password: that comes from PGPASSWORD or a file). */
  url(db: string): string;
  /** Create an empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** A superuser connection to `db` (for checks the store does not offer). */
  connect(db: string): postgres.Sql;
  /** Stop the server (fast shutdown: connections are cut) until start() brings it back. */
  pause(): void;
  start(): void;
  stop(): Promise<void>;
}

/** The bin directory of the newest installed PostgreSQL (Debian layout), if any. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return undefined;
}

/** True when PostgreSQL tests must skip (prints why once; fails under GLIDEIN_TEST_REQUIRE_TOOLS). */
export function skipWithoutPostgres(): boolean {
  const bin = postgresBinDir();
  let account = true;
  if (IS_ROOT) account = spawnSync('getent', ['passwd', 'postgres']).status === 0;
  return skipWithout('a PostgreSQL server', bin !== undefined && account, "install Debian's 'postgresql' (initdb and pg_ctl under /usr/lib/postgresql/N/bin and the 'postgres' account)");
}

function asServerUser(): { uid?: number; gid?: number } {
  if (!IS_ROOT) return {};
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'postgres']).toString().trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** initdb + start a cluster; call stop() in afterAll. */
export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('no PostgreSQL installed (check skipWithoutPostgres first)');
  const owner = asServerUser();
  const dir = mkdtempSync(join(tmpdir(), 'glidein-pg-'));
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'pwfile'), password + '\n', { mode: 0o600 });
  if (owner.uid !== undefined) chownSync(dir, owner.uid, owner.gid!), chownSync(join(dir, 'pwfile'), owner.uid, owner.gid!);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, { ...owner, cwd: dir, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', join(dir, 'data'), '-U', PG_USER, '--pwfile', join(dir, 'pwfile'), '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  // fsync off: a test cluster lives for one test file; the service's own durability is not under test here.
  const opts = `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=16MB`;
  const start = () => run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
  start();
  const open: postgres.Sql[] = [];
  const connect = (db: string) => {
    const sql = postgres({ host: '127.0.0.1', port, user: PG_USER, pass: password, database: db, max: 4, onnotice: () => {}, fetch_types: false });
    open.push(sql);
    return sql;
  };
  const url = (db: string) => `postgres://${PG_USER}@127.0.0.1:${port}/${db}`;
  const admin = connect('postgres');
  return {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    user: PG_USER,
    password,
    url,
    connect,
    async createDatabase(name: string) {
      if (!/^[a-z][a-z0-9_]{0,40}$/.test(name)) throw new Error(`test database name: ${name}`);
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return url(name);
    },
    pause: () => run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']),
    start,
    async stop() {
      await Promise.all(open.map((s) => s.end({ timeout: 2 }).catch(() => {})));
      spawnSync(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'], { ...owner, cwd: dir, timeout: 30_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
