#!/usr/bin/env node
// Benchmark (issue 8): agentIdleRssMiB, the resident memory (VmRSS in /proc/<pid>/status) of
// `dist/glidein run` holding one sleeping payload (`-- /bin/sleep 600`) with its refresh loop
// running against a real service (its own process, C-CRED and S-CRED of 60 s, so the agent
// refreshes about every 35 s). Sampled --settle seconds after the first refresh was answered,
// after the agent has also validated the node and posted its first status report. Baseline in
// the same run: an idle `node -e 'setInterval(()=>{},1e3)'` of the same Node.
// Usage: node scripts/bench/agent-rss.mjs [--exe dist/glidein] [--settle 5]. One JSON object on stdout.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchService, stopChild } from './bench-service.mjs';
import { memoryFigures } from './memory.mjs';
import { sleep } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { exe: { type: 'string', default: join(root, 'dist', 'glidein') }, settle: { type: 'string', default: '5' } } });
const settleMs = Number(values.settle) * 1000;

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-rss-'));
let service;
let agent;
try {
  service = await startBenchService({ exe: values.exe, dir });
  const bundlePath = await service.register('rss-1');
  const work = join(dir, 'work');
  mkdirSync(work);
  const refreshed = service.answered('/v1/refresh', 200, 'the first refresh');
  const statusPosted = service.answered('/v1/status', 200, 'the first status report');
  agent = spawn(values.exe, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '600'], { stdio: 'ignore' });
  await Promise.all([refreshed, statusPosted]);
  await sleep(settleMs);
  const { rss, ...rest } = await memoryFigures(agent.pid, 'agent-rss');
  console.log(JSON.stringify({ bench: 'agent-rss', agentIdleRssMiB: rss, ...rest, settleSeconds: settleMs / 1000 }));
} finally {
  await stopChild(agent);
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
}
