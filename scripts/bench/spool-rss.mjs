#!/usr/bin/env node
// Benchmark (issue 12): agentSpoolRssMiB, the resident memory (VmRSS) of `dist/glidein run
// --spool` in production shape: a setuid policy (root only) whose identity tokens are verified
// against the site's issuer keys (ES256 JWKS, audience checked) and mapped to `nobody`, sampled
// --settle seconds after its third job's result was written. The idle agent (agent-rss.mjs)
// never verifies a token; this one has loaded and used the verification path. Baseline in the
// same run: an idle `node` of the same Node (goal: ≤ 1.5 × it).
// Usage: node scripts/bench/spool-rss.mjs [--exe dist/glidein] [--jobs 3] [--settle 5]. One JSON object on stdout.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { startBenchService, stopChild } from './bench-service.mjs';
import { memoryFigures } from './memory.mjs';
import { sleep } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { exe: { type: 'string', default: join(root, 'dist', 'glidein') }, jobs: { type: 'string', default: '3' }, settle: { type: 'string', default: '5' } } });
const settleMs = Number(values.settle) * 1000;
const jobs = Number(values.jobs);
if (process.geteuid() !== 0) {
  console.error('spool-rss: a setuid policy needs root');
  process.exit(2);
}

/** Wait for a job's result file; it must have run as the mapped account. */
async function result(spool, name, timeoutMs = 30_000) {
  const path = join(spool, `${name}.result.json`);
  for (const until = Date.now() + timeoutMs; !existsSync(path); await sleep(50)) {
    if (Date.now() > until) throw new Error(`no result for ${name} in ${timeoutMs / 1000} s`);
  }
  const r = JSON.parse(readFileSync(path, 'utf8'));
  if (r.state !== 'completed' || r.uid !== 65534) throw new Error(`${name}: ${r.state} as uid ${r.uid} (${r.reason ?? 'no reason'})`);
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-spool-rss-'));
// Job accounts traverse to their own directories under the work dir.
chmodSync(dir, 0o711);
let service;
let agent;
try {
  service = await startBenchService({ exe: values.exe, dir });
  const bundlePath = await service.register('spool-rss-1');
  const site = await createDemoSite({ dir, identity: 'setuid', accounts: { bench: 'nobody' } });
  const work = join(dir, 'work');
  const spool = join(dir, 'spool');
  mkdirSync(work);
  mkdirSync(spool);
  const refreshed = service.answered('/v1/refresh', 200, 'the first refresh');
  agent = spawn(values.exe, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '600'], { stdio: 'ignore' });
  await refreshed;
  for (let i = 1; i <= jobs; i++) {
    const spec = { id: `bench-${i}`, executable: '/bin/true', cwd: '/', limits: { wallclockSeconds: 60 }, identity: await site.identityToken('bench', 600) };
    // Renamed in, so the agent never reads a half-written spec.
    writeFileSync(join(spool, `.bench-${i}.tmp`), JSON.stringify(spec));
    renameSync(join(spool, `.bench-${i}.tmp`), join(spool, `bench-${i}.json`));
    await result(spool, `bench-${i}`);
  }
  await sleep(settleMs);
  const { rss, ...rest } = await memoryFigures(agent.pid, 'spool-rss');
  console.log(JSON.stringify({ bench: 'spool-rss', agentSpoolRssMiB: rss, ...rest, jobs, settleSeconds: settleMs / 1000 }));
} finally {
  await stopChild(agent);
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
}
