// A PostgreSQL server for the refresh bench: a throwaway cluster (initdb) in a temp dir on a free
// loopback port, with the durability a factory would run (fsync and synchronous_commit on, the
// defaults), as the 'postgres' account when run as root. One database, glidein_bench; password
// (SCRAM) over TCP. Throws with the reason when no server can start (the bench reports the
// PostgreSQL figures missing). Also: the CPU time the server's processes used, for CPU per refresh.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from './stats.mjs';

const USER = 'glidein_bench';

function binDir() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a) : [];
  const v = versions.find((x) => existsSync(join(root, x, 'bin', 'initdb')));
  if (v === undefined) throw new Error("no PostgreSQL server installed (Debian's 'postgresql': initdb and pg_ctl under /usr/lib/postgresql/N/bin)");
  return join(root, v, 'bin');
}

function serverAccount() {
  if (process.geteuid() !== 0) return {};
  const r = spawnSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error("running as root but there is no 'postgres' account to run the server as");
  const [, , uid, gid] = r.stdout.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Start the cluster: { url, password, cpuMs(), stop() }. */
export async function startBenchPostgres() {
  const bin = binDir();
  const owner = serverAccount();
  const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-pg-'));
  const password = randomBytes(12).toString('hex');
  writeFileSync(join(dir, 'pwfile'), `${password}\n`, { mode: 0o600 });
  if (owner.uid !== undefined) for (const p of [dir, join(dir, 'pwfile')]) chownSync(p, owner.uid, owner.gid);
  const run = (cmd, args) => {
    const r = spawnSync(join(bin, cmd), args, { ...owner, cwd: dir, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${(r.stderr || r.stdout || '').trim().slice(0, 300)}`);
  };
  const port = await freePort();
  const data = join(dir, 'data');
  try {
    run('initdb', ['-D', data, '-U', USER, '--pwfile', join(dir, 'pwfile'), '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8']);
    run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-h 127.0.0.1 -p ${port} -k ${dir} -c max_connections=50`, 'start']);
    run('createdb', ['-h', dir, '-p', String(port), '-U', USER, 'glidein_bench']);
  } catch (e) {
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...owner, cwd: dir, timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url: `postgres://${USER}@127.0.0.1:${port}/glidein_bench`,
    password,
    /** CPU ms (user + system) of the postmaster and its children (backends, WAL writer, …). */
    cpuMs() {
      let total = 0;
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
          if (Number(pid) === postmaster || Number(f[1]) === postmaster) total += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
        } catch {
          /* the process ended */
        }
      }
      return total;
    },
    stop() {
      spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { ...owner, cwd: dir, timeout: 30_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** For the record: which PostgreSQL ran. */
export function postgresVersion() {
  try {
    return execFileSync(join(binDir(), 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
