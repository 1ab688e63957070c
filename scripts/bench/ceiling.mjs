#!/usr/bin/env node
// Benchmark (issue 8): refreshCeilingPerSecond, the rate of exactly the crypto one refresh costs
// the service, with no HTTP and no database, on every core (one worker_thread per core):
//   verifyDpopProof (the service's own function: parse, ES256 verify, cached key/thumbprint),
//   hashRefreshToken of the presented token, newRefreshToken + its hash, the jti hash the store
//   takes, mintIdtoken (HMAC-SHA256 C-CRED) and mintScitoken (ES256 S-CRED): the service's code.
// Each worker cycles through proofs made beforehand by 64 distinct pilot keys (the client's
// signing is not part of the service's work). Besides the rate, the workers' CPU time per
// refresh (cpuMsPerRefresh), the baseline of the service's CPU per refresh.
// Usage: node scripts/bench/ceiling.mjs [--seconds 5]. Prints one JSON object on stdout.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

if (isMainThread) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, threads: { type: 'string' } } });
  const seconds = Number(values.seconds);
  const threads = Number(values.threads ?? availableParallelism());
  if (!(seconds > 0 && seconds <= 60) || !Number.isInteger(threads) || threads < 1) {
    console.error('ceiling: --seconds 0..60, --threads a positive integer');
    process.exit(2);
  }
  const { createPoolKeyFile } = await import('../../refresh-service/index.ts');
  const { loadSigningKeys } = await import('../../refresh-service/signing-keys.ts');
  const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-ceiling-'));
  try {
    await createPoolKeyFile(join(dir, 'POOL'));
    const { ensureStateDir } = await import('../../refresh-service/state-dir.ts');
    await ensureStateDir(join(dir, 'state'));
    await loadSigningKeys(join(dir, 'state')); // creates the S-CRED key the workers load
    const shared = new Int32Array(new SharedArrayBuffer(4));
    const workers = Array.from({ length: threads }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { dir, seconds, shared } }));
    const ready = workers.map((w) => new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('message', resolve);
    }));
    await Promise.all(ready);
    // Start together.
    const done = workers.map((w) => new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('message', resolve);
    }));
    Atomics.store(shared, 0, 1);
    Atomics.notify(shared, 0);
    const results = await Promise.all(done);
    const perSecond = results.reduce((s, r) => s + r.count / r.seconds, 0);
    console.log(JSON.stringify({
      bench: 'ceiling', threads, seconds,
      perSecond: Math.round(perSecond * 10) / 10,
      perThread: results.map((r) => Math.round((r.count / r.seconds) * 10) / 10),
      // CPU (not wall) ms per refresh's crypto: on a loaded machine a thread waits for its
      // core, which would inflate threads / perSecond but not this.
      cpuMsPerRefresh: Math.round((results.reduce((s, r) => s + r.cpuMs, 0) / results.reduce((s, r) => s + r.count, 0)) * 1e4) / 1e4,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const { dir, seconds, shared } = workerData;
  const { mintContext, refreshCrypto } = await import('./refresh-crypto.mjs');
  const { newRefreshToken } = await import('../../refresh-service/refresh-token.ts');
  const { createDpopProof, generateDpopKey } = await import('../../shared/dpop.ts');
  const base = 'http://127.0.0.1:8443';
  const htu = `${base}/v1/refresh`;
  const ctx = await mintContext(join(dir, 'POOL'), join(dir, 'state'), base);
  const proofs = [];
  for (let k = 0; k < 64; k++) {
    const key = await generateDpopKey();
    for (let i = 0; i < 8; i++) proofs.push(await createDpopProof(key, { htm: 'POST', htu }));
  }
  const presented = Array.from({ length: 64 }, () => newRefreshToken());
  parentPort.postMessage('ready');
  Atomics.wait(shared, 0, 0);
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.threadCpuUsage();
  let count = 0;
  while (performance.now() < deadline) {
    for (let b = 0; b < 16; b++, count++) await refreshCrypto(ctx, proofs[count % proofs.length], presented[count % presented.length], htu);
  }
  const cpu = process.threadCpuUsage(cpu0);
  parentPort.postMessage({ count, seconds: (performance.now() - t0) / 1000, cpuMs: (cpu.user + cpu.system) / 1000 });
}
