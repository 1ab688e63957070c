#!/usr/bin/env node
// Benchmark: median time of one atomic, durable credential write through the store
// (temp file O_CREAT|O_EXCL|O_NOFOLLOW, fchmod, write, fsync, rename, fsync dir).
// Usage: node scripts/bench/store-write.mjs [--count N] [--dir DIR] [--size BYTES]
// DIR defaults to a fresh temp dir; point it at the pilot work dir's filesystem to measure that.
// Prints one JSON object on stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { CredStore } from '../../agent/store/index.ts';
import { median, quantile } from './stats.mjs';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, dir: { type: 'string' }, size: { type: 'string', default: '1024' } },
});
const count = Number(values.count);
const size = Number(values.size);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 1) {
  console.error('--count and --size must be positive integers');
  process.exit(2);
}

const workdir = mkdtempSync(join(values.dir ?? tmpdir(), 'glidein-bench-store-'));
try {
  const store = await CredStore.open(workdir);
  // A credential-sized value (a JWT is typically 0.7–2 KiB).
  const data = 'x'.repeat(size);
  await store.writePilot('warmup', data, null);
  const ms = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await store.writePilot('scitoken', data, null);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const round = (v) => Math.round(v * 1000) / 1000;
  console.log(JSON.stringify({
    bench: 'store-write',
    count,
    bytes: size,
    dir: values.dir ?? tmpdir(),
    median_ms: round(median(ms)),
    p90_ms: round(quantile(ms, 0.9)),
    p99_ms: round(quantile(ms, 0.99)),
    min_ms: round(ms[0]),
    max_ms: round(ms[ms.length - 1]),
  }));
  await store.wipeAll();
} finally {
  rmSync(workdir, { recursive: true, force: true });
}
