#!/usr/bin/env node
// Benchmark (issues 8 and 27): agentIdleRssMiB, the resident memory of `dist/glidein run`
// holding one sleeping payload (`-- /bin/sleep 600`) with its refresh loop running against a
// real service (its own process, C-CRED and S-CRED of 60 s, so the agent refreshes about every
// 35 s), sampled --settle seconds after the first refresh was answered, after the agent has also
// validated the node and posted its first status report.
// The executable's file-backed pages depend on the page cache (a build's freshly written file
// maps 10-20 MiB more than the same file read from disk), so the file is settled first (written
// back and dropped: memory.mjs settleFile), one whole run settles what it reads back in, and
// the figure is the second run's. Both runs are reported, each as VmRSS, anonymous, file-backed
// and PSS (from /proc/PID/smaps_rollup). Baseline in the same run: an idle
// `node -e 'setInterval(()=>{},1e3)'` of the same Node, split the same way.
// Usage: node scripts/bench/agent-rss.mjs [--exe dist/glidein] [--settle 5]. One JSON object on stdout.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchService, stopChild } from './bench-service.mjs';
import { dumpLargestMappings, idleNode, memorySplit, settleFile } from './memory.mjs';
import { sleep } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { exe: { type: 'string', default: join(root, 'dist', 'glidein') }, settle: { type: 'string', default: '5' } } });
const settleMs = Number(values.settle) * 1000;

/** One idle agent from start to its first refresh and status report, then --settle seconds: its memory. */
async function idleAgent(service, dir, n) {
  const bundlePath = await service.register(`rss-${n}`);
  const work = join(dir, `work-${n}`);
  mkdirSync(work);
  const refreshed = service.answered('/v1/refresh', 200, 'the first refresh');
  const statusPosted = service.answered('/v1/status', 200, 'the first status report');
  const agent = spawn(values.exe, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '600'], { stdio: 'ignore' });
  try {
    await Promise.all([refreshed, statusPosted]);
    await sleep(settleMs);
    const m = memorySplit(agent.pid);
    dumpLargestMappings(agent.pid, `agent-rss run ${n}`);
    return m;
  } finally {
    await stopChild(agent);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-rss-'));
let service;
try {
  const settledBy = settleFile(values.exe);
  service = await startBenchService({ exe: values.exe, dir });
  const first = await idleAgent(service, dir, 1);
  const settled = await idleAgent(service, dir, 2);
  const node = await idleNode();
  console.log(JSON.stringify({
    bench: 'agent-rss',
    agentIdleRssMiB: settled.rss,
    ...settled,
    firstRun: first,
    nodeIdleRssMiB: node.rss,
    nodeIdle: node,
    fileSettledBy: settledBy,
    settleSeconds: settleMs / 1000,
  }));
} finally {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
}
