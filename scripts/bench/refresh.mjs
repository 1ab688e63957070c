#!/usr/bin/env node
// Benchmark (issue 8): the refresh service under load, as `npm run bench` reports it.
// The service runs in its own process (`dist/glidein refresh-service serve`, synchronous=FULL,
// rate limits lifted); this process is the load generator: simulated pilots, each with its own
// DPoP key and a strictly sequential chain of single-use refresh tokens, over loopback keep-alive.
//   1. max rate: closed loop, --concurrency requests in flight, --pilots pilots, --duration s;
//   2. p99 at half that rate: open loop (arrivals on a fixed schedule, latency counted from the
//      scheduled time so queueing is not hidden: no coordinated omission), --half-duration s;
//   3. scale: two fresh services, one with 100 registered pilots, one with the same 100 plus
//      --scale-pilots - 100 more, loaded alternately at the same fixed open-loop rate; and the
//      state bytes per registered pilot.
// The extra 99 900 pilots are bulk-inserted straight into the service's SQLite file (the same
// schema, opened once through the service's SqliteStateStore so it is created exactly as the
// service creates it): a family bound to a DPoP thumbprint with one live refresh token, i.e. a
// pilot after its first refresh. Registering them one by one through registerPilot would take
// about 100 000 fsyncs, minutes on this machine, and measure nothing more.
// With --floor the load goes to floor-server.mjs instead (node:http and the refresh's crypto,
// nothing else): steps 1 and 2 only; its CPU per refresh is the floor under the service's.
// With --postgres the service keeps its state in a PostgreSQL server of its own (postgres.mjs,
// fsync on) instead: steps 1 and 2 only, and the CPU per refresh of the database server too.
// Usage: node scripts/bench/refresh.mjs [--exe dist/glidein] [--duration 15] [--half-duration 10]
//          [--pilots 256] [--concurrency 32] [--scale-pilots 100000] [--scale-rate 150] [--scale-seconds 4] [--postgres | --floor]
// Prints one JSON object on stdout (progress on stderr). 127.0.0.1 only; bounded in time.
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { createDpopProof, generateDpopKey, htuOf } from '../../shared/dpop.ts';
import { createPoolKeyFile, parseServiceConfig, registerPilot } from '../../refresh-service/index.ts';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';
import { freePort, quantile, sleep } from './stats.mjs';
import { postgresVersion, startBenchPostgres } from './postgres.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    exe: { type: 'string', default: join(root, 'dist', 'glidein') },
    duration: { type: 'string', default: '15' },
    'half-duration': { type: 'string', default: '10' },
    pilots: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '32' },
    'scale-pilots': { type: 'string', default: '100000' },
    'scale-rate': { type: 'string', default: '150' },
    'scale-seconds': { type: 'string', default: '4' },
    postgres: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
  },
});
const num = (k, min, max) => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`refresh bench: --${k} must be a number from ${min} to ${max}`);
    process.exit(2);
  }
  return v;
};
const duration = num('duration', 1, 60);
const halfDuration = num('half-duration', 1, 60);
const pilotCount = num('pilots', 1, 10_000);
const concurrency = Math.min(num('concurrency', 1, 512), pilotCount);
const scalePilots = num('scale-pilots', 100, 1_000_000);
const scaleRate = num('scale-rate', 1, 5000);
const scaleSeconds = num('scale-seconds', 1, 30);
const progress = (m) => process.stderr.write(`  refresh: ${m}\n`);
if (!existsSync(values.exe)) {
  console.error(`refresh bench: ${values.exe} is missing; run npm run build first`);
  process.exit(2);
}

const round = (v, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-refresh-'));
const children = [];
const poolKeyFile = join(dir, 'POOL');
/** The PostgreSQL server with --postgres (started in the try below). */
let pg;

/** A service in its own process on a free loopback port, with its own state dir. */
async function startService(name) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const raw = {
    trustDomain: 'bench.example.org', poolSigningKeyFile: poolKeyFile, publicUrl: base,
    rateLimit: { globalPerSecond: 1_000_000, globalBurst: 1_000_000, familyPerMinute: 6_000_000, familyBurst: 1_000_000 },
    ...(pg ? { database: pg.url } : {}),
  };
  const configFile = join(dir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify(raw));
  const config = parseServiceConfig(raw, configFile);
  const stateDir = join(dir, name);
  const [cmd, args] = values.floor
    // The floor runs on the heap every command of the executable gets (scripts/build.mjs, SEA
    // execArgv: 1 MiB semi-spaces, for the agent's memory), so the two differ only in the work
    // they do: on Node's default young generation the same load spends about half as much in
    // GC (4.8 % of the service's time against 9.4 % in one --cpu-prof pair, issue 27).
    ? [process.execPath, ['--max-semi-space-size=1', join(root, 'scripts', 'bench', 'floor-server.mjs'), stateDir, configFile, String(port)]]
    : [values.exe, ['refresh-service', 'serve', '--init', '--state', stateDir, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--log-format', 'json']];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`${name}: serve exited ${code}`)));
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  return { name, base, url: `${base}/v1/refresh`, htu: htuOf(`${base}/v1/refresh`), stateDir, config, child, agent };
}

async function registerPilots(svc, n, prefix) {
  const pilots = [];
  for (let i = 0; i < n; i++) {
    const bundle = await registerPilot({ stateDir: svc.stateDir, config: svc.config, glideinId: `${prefix}-${i}`, entry: `CE_${i % 8}`, url: svc.base });
    pilots.push({ token: bundle.refresh_token, key: await generateDpopKey(), busy: false });
  }
  return pilots;
}

function post(svc, body, dpop) {
  return new Promise((resolve, reject) => {
    const req = request(svc.url, { method: 'POST', agent: svc.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), dpop } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One refresh of pilot p: a fresh proof, the rotation, the next token kept. */
async function refreshOnce(svc, p) {
  const proof = await createDpopProof(p.key, { htm: 'POST', htu: svc.htu });
  const r = await post(svc, JSON.stringify({ refresh_token: p.token }), proof);
  if (r.status !== 200) return false;
  p.token = JSON.parse(r.body).refresh_token;
  return true;
}

/** Closed loop: `conc` workers, each owning pilots w, w+conc, … (a pilot's refreshes are sequential). */
async function closedLoop(svc, pilots, conc, seconds) {
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async (_, w) => {
    const mine = pilots.filter((_p, i) => i % conc === w);
    for (let j = 0; performance.now() < deadline; j++) {
      const p = mine[j % mine.length];
      const started = performance.now();
      const ok = await refreshOnce(svc, p).catch(() => false);
      latencies.push(performance.now() - started);
      if (!ok) errors++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { refreshes: latencies.length - errors, errors, seconds: secs, perSecond: (latencies.length - errors) / secs, latencies };
}

/**
 * Open loop at `rate` per second for `seconds`: arrival k is due at t0 + k/rate; it takes the next
 * idle pilot (or waits for one) and its latency runs from the due time to the answer.
 */
async function openLoop(svc, pilots, rate, seconds) {
  const latencies = [];
  let errors = 0;
  const idle = [...pilots];
  const waiters = [];
  const take = () => (idle.length ? Promise.resolve(idle.pop()) : new Promise((r) => waiters.push(r)));
  const give = (p) => (waiters.length ? waiters.shift()(p) : idle.push(p));
  const total = Math.round(rate * seconds);
  const inflight = [];
  const t0 = performance.now() + 20;
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push((async () => {
      const p = await take();
      const ok = await refreshOnce(svc, p).catch(() => false);
      latencies.push(performance.now() - due);
      give(p);
      if (!ok) errors++;
    })());
  }
  await Promise.all(inflight);
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { refreshes: latencies.length - errors, errors, seconds: secs, perSecond: (latencies.length - errors) / secs, latencies };
}

const summary = (r) => ({
  refreshes: r.refreshes, errors: r.errors, seconds: round(r.seconds), perSecond: round(r.perSecond, 1),
  p50Ms: round(quantile(r.latencies, 0.5)), p90Ms: round(quantile(r.latencies, 0.9)), p99Ms: round(quantile(r.latencies, 0.99)), maxMs: round(r.latencies.at(-1) ?? 0),
});

/** The extra pilots, straight into SQLite in one transaction (see the header). */
function bulkRegister(stateDir, n) {
  const store = new SqliteStateStore(stateDir); // creates the schema exactly as the service does
  void store.close();
  const db = new DatabaseSync(join(stateDir, 'state.db'), { timeout: 10_000 });
  db.exec('PRAGMA synchronous = OFF');
  const now = Math.floor(Date.now() / 1000);
  const fam = db.prepare('INSERT INTO families (glidein_id, entry, created_at, expires_at, jkt) VALUES (?, ?, ?, ?, ?)');
  const tok = db.prepare('INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES (?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) {
    const id = `bulk-${i}`;
    fam.run(id, `CE_${i % 8}`, now, now + 7 * 24 * 3600, createHash('sha256').update(randomBytes(32)).digest('base64url'));
    tok.run(createHash('sha256').update(randomBytes(32)).digest('base64url'), id, now);
  }
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

/** CPU time (user + system, ms) a process has used, from /proc/<pid>/stat. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

function dbBytes(stateDir) {
  let total = 0;
  for (const f of ['state.db', 'state.db-wal']) {
    try {
      total += statSync(join(stateDir, f)).size;
    } catch {
      /* no WAL file */
    }
  }
  return total;
}

try {
  await createPoolKeyFile(poolKeyFile);
  if (values.postgres) {
    pg = await startBenchPostgres();
    process.env.PGPASSWORD = pg.password; // for registerPilot here and the service's process
  }

  // 1 and 2: one service, --pilots pilots.
  const svc = await startService('main');
  progress(`registering ${pilotCount} pilots`);
  const pilots = await registerPilots(svc, pilotCount, 'load');
  progress('warm-up (2 s)');
  await closedLoop(svc, pilots, concurrency, 2);
  progress(`max rate: closed loop, ${concurrency} in flight, ${duration} s`);
  const cpu0 = { svc: cpuMs(svc.child.pid), gen: process.cpuUsage(), db: pg?.cpuMs() };
  const maxResult = await closedLoop(svc, pilots, concurrency, duration);
  const gen = process.cpuUsage(cpu0.gen);
  const perRefresh = (ms) => round(ms / Math.max(1, maxResult.refreshes), 3);
  const cpuPerRefresh = {
    serviceMs: perRefresh(cpuMs(svc.child.pid) - cpu0.svc),
    loadGeneratorMs: perRefresh((gen.user + gen.system) / 1000),
    ...(pg ? { databaseMs: perRefresh(pg.cpuMs() - cpu0.db) } : {}),
  };
  const halfRate = Math.max(1, maxResult.perSecond / 2);
  progress(`half rate: open loop at ${round(halfRate, 1)}/s, ${halfDuration} s`);
  const half = await openLoop(svc, pilots, halfRate, halfDuration);
  const loadFigures = { bench: 'refresh', pilots: pilotCount, concurrency, max: { ...summary(maxResult), cpuPerRefresh }, half: { targetPerSecond: round(halfRate, 1), ...summary(half) } };
  if (values.floor) console.log(JSON.stringify({ ...loadFigures, server: 'floor-server.mjs: node:http + the crypto, nothing else' }));
  else console.log(JSON.stringify(pg ? { ...loadFigures, database: postgresVersion() } : { ...loadFigures, synchronous: 'full', scale: await scale() }));
} finally {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** 3: scale, two fresh services loaded alternately at the same fixed rate. */
async function scale() {
  progress(`scale: bulk-inserting ${scalePilots - 100} pilots`);
  for (const d of ['empty-probe', 'large']) mkdirSync(join(dir, d), { mode: 0o700 });
  bulkRegister(join(dir, 'empty-probe'), 0);
  const emptyBytes = dbBytes(join(dir, 'empty-probe'));
  bulkRegister(join(dir, 'large'), scalePilots - 100);
  const small = await startService('small');
  const large = await startService('large');
  const smallPilots = await registerPilots(small, 100, 'scale');
  const largePilots = await registerPilots(large, 100, 'scale');
  const smallRuns = [];
  const largeRuns = [];
  await openLoop(small, smallPilots, scaleRate, 1); // warm both
  await openLoop(large, largePilots, scaleRate, 1);
  for (let round_ = 0; round_ < 2; round_++) {
    progress(`scale round ${round_ + 1}/2: ${scaleRate}/s for ${scaleSeconds} s on each`);
    smallRuns.push(await openLoop(small, smallPilots, scaleRate, scaleSeconds));
    largeRuns.push(await openLoop(large, largePilots, scaleRate, scaleSeconds));
  }
  const merge = (runs) => {
    const lat = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return { refreshes: runs.reduce((s, r) => s + r.refreshes, 0), errors: runs.reduce((s, r) => s + r.errors, 0), seconds: runs.reduce((s, r) => s + r.seconds, 0), perSecond: 0, latencies: lat };
  };
  const s100 = summary(merge(smallRuns));
  const s100k = summary(merge(largeRuns));
  const largeBytes = dbBytes(large.stateDir);
  return {
    ratePerSecond: scaleRate,
    pilots100: s100,
    pilots100k: { registered: scalePilots, ...s100k },
    p50Ratio: round(s100k.p50Ms / s100.p50Ms, 3),
    p99Ratio: round(s100k.p99Ms / s100.p99Ms, 3),
    stateBytes: largeBytes,
    stateBytesPerPilot: round((largeBytes - emptyBytes) / scalePilots, 1),
  };
}
