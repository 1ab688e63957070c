#!/usr/bin/env node
// Benchmark: refreshes per second and latency of POST /v1/refresh (DPoP included) on loopback,
// with the service in its own process and the load from this one, next to the raw rate of the
// same crypto operations measured in the same run.
// Usage: node scripts/bench/refresh-load.mjs [--duration S] [--requests N] [--concurrency C]
//          [--families F] [--sync full|normal] [--exe PATH]
// Bounded: at most 60 s and 200000 requests, 127.0.0.1 only. Prints one JSON object on stdout.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createDpopProof, generateDpopKey, htuOf } from '../../shared/dpop.ts';
import { createPoolKeyFile, readSigningKeyFile, signIdtoken } from '../../shared/idtoken.ts';
import { verifyDpopProof } from '../../refresh-service/dpop-verify.ts';
import { loadSigningKeys, signEs256 } from '../../refresh-service/signing-keys.ts';
import { parseServiceConfig } from '../../refresh-service/config.ts';
import { registerPilot } from '../../refresh-service/register.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    families: { type: 'string', default: '64' },
    sync: { type: 'string', default: 'full' },
    exe: { type: 'string' },
  },
});
const duration = Math.min(60, Number(values.duration));
const maxRequests = Math.min(200_000, Number(values.requests));
const concurrency = Math.min(256, Number(values.concurrency));
const families = Math.max(concurrency, Math.min(10_000, Number(values.families)));
if (![duration, maxRequests, concurrency, families].every((v) => Number.isFinite(v) && v > 0) || !['full', 'normal'].includes(values.sync)) {
  console.error('refresh-load: --duration, --requests, --concurrency, --families must be positive numbers; --sync full|normal');
  process.exit(2);
}

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-refresh-'));
let child;
try {
  const poolKeyFile = join(dir, 'POOL');
  await createPoolKeyFile(poolKeyFile);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const rawConfig = {
    trustDomain: 'bench.example.org', poolSigningKeyFile: poolKeyFile, publicUrl: base, stateSynchronous: values.sync,
    rateLimit: { globalPerSecond: 1_000_000, globalBurst: 1_000_000, familyPerMinute: 6_000_000, familyBurst: 1_000_000 },
  };
  const configFile = join(dir, 'service.json');
  writeFileSync(configFile, JSON.stringify(rawConfig));
  const config = parseServiceConfig(rawConfig, configFile);
  const stateDir = join(dir, 'state');

  // The service in its own process (the built executable, or the source through Node 24).
  const cmd = values.exe ? [values.exe] : [process.execPath, join(root, 'agent', 'cli.ts')];
  child = spawn(cmd[0], [...cmd.slice(1), 'refresh-service', 'serve', '--state', stateDir, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });

  const pilots = [];
  for (let i = 0; i < families; i++) {
    const bundle = await registerPilot({ stateDir, config, glideinId: `bench-${i}`, entry: `CE_${i % 8}`, url: base });
    pilots.push({ token: bundle.refresh_token, key: await generateDpopKey() });
  }

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = `${base}/v1/refresh`;
  const htu = htuOf(url);
  const post = (body, dpop) => new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), dpop } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });

  const latencies = [];
  let issued = 0;
  let errors = 0;
  const deadline = performance.now() + duration * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    // Each worker owns families w, w+C, …: a family's refreshes are sequential, as a pilot's are.
    const mine = pilots.filter((_p, i) => i % concurrency === w);
    let j = 0;
    while (performance.now() < deadline && issued < maxRequests) {
      issued++;
      const p = mine[j++ % mine.length];
      const started = performance.now();
      const proof = await createDpopProof(p.key, { htm: 'POST', htu });
      const r = await post(JSON.stringify({ refresh_token: p.token }), proof);
      latencies.push(performance.now() - started);
      if (r.status === 200) p.token = JSON.parse(r.body).refresh_token;
      else errors++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();

  // Raw rate of the same crypto, in this process: what one refresh costs the client (proof
  // signing) and the server (proof check + thumbprint, token hashes, IDTOKEN HMAC, ES256 S-CRED).
  const key = await generateDpopKey();
  const poolKey = await readSigningKeyFile(poolKeyFile);
  const signing = (await loadSigningKeys(stateDir)).active;
  const n = 2000;
  const proofs = [];
  let c0 = performance.now();
  for (let i = 0; i < n; i++) proofs.push(await createDpopProof(key, { htm: 'POST', htu }));
  const proofSignPerS = n / ((performance.now() - c0) / 1000);
  c0 = performance.now();
  for (let i = 0; i < n; i++) {
    const now = Math.floor(Date.now() / 1000);
    const v = await verifyDpopProof(proofs[i], { htm: 'POST', htu, now, window: 60, skew: 10 });
    if (!v.ok) throw new Error(v.reason);
    createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    signIdtoken(poolKey, { iss: 'bench.example.org', sub: 'CE@bench.example.org', iat: now, exp: now + 3600, scope: 'condor:/READ' });
    signEs256(signing, { typ: 'JWT' }, { 'wlcg.ver': '1.0', iss: base, sub: 'CE@bench.example.org', aud: 'any', scope: 'compute.read', iat: now, nbf: now, exp: now + 3600, jti: randomBytes(16).toString('hex') });
  }
  const serverCryptoPerS = n / ((performance.now() - c0) / 1000);

  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const round = (v) => Math.round(v * 100) / 100;
  console.log(JSON.stringify({
    bench: 'refresh-load',
    node: process.versions.node,
    cpus: cpus().length,
    server: values.exe ? 'executable' : 'source',
    synchronous: values.sync,
    concurrency,
    families,
    refreshes: latencies.length - errors,
    errors,
    seconds: round(seconds),
    refreshesPerSecond: round((latencies.length - errors) / seconds),
    latencyMs: { p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(latencies.at(-1) ?? 0) },
    rawCrypto: { proofSignPerSecond: round(proofSignPerS), serverCryptoPerRefreshPerSecond: round(serverCryptoPerS) },
  }));
} finally {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}
