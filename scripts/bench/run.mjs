#!/usr/bin/env node
// `npm run bench` (issue 8): every figure next to its baseline, all measured in this one run on
// this machine, then a table (figure, baseline, ratio, goal, pass/fail). With --json the last
// line is one JSON object with every figure. Builds dist/ first when it is missing.
// The parts are the scripts beside this one, each run as its own process (so one part's heap,
// JIT and open handles never colour the next): validate.mjs, launch.mjs, refresh.mjs,
// ceiling.mjs, agent-rss.mjs; cold start is timed here. About 3 to 4 minutes on 2 cores.
// Usage: npm run bench [-- --json] [-- --quick]   (--quick: shorter runs, for a smoke check)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const here = join(root, 'scripts', 'bench');
const exe = join(root, 'dist', 'glidein');
const node = process.execPath;
const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false } } });
const quick = values.quick;
const say = (m) => process.stderr.write(`${m}\n`);
const r1 = (v) => (v === null || v === undefined ? null : Math.round(v * 10) / 10);

if (!existsSync(exe)) {
  say('bench: dist/glidein is missing; building it (npm run build)');
  const b = spawnSync(node, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (b.status !== 0) {
    say('bench: the build failed');
    process.exit(1);
  }
}

/** Run one part as its own process; its last stdout line is its JSON result. */
function part(script, args = []) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(node, [join(here, script), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => {
      err += d;
      if (!values.json) process.stderr.write(d);
    });
    p.once('error', reject);
    p.once('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        const j = JSON.parse(last);
        say(`bench: ${script} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        resolve(j);
      } catch {
        reject(new Error(`${script} exited ${code} without a JSON result:\n${err.slice(-2000)}`));
      }
    });
  });
}

/** Wall time of one process from spawn to exit. */
function wall(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

const machine = {
  cpus: availableParallelism(),
  model: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.versions.node,
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  date: new Date().toISOString(),
};
say(`bench: ${machine.cpus} × ${machine.model}, Node ${machine.node}`);

// 1. Cold start: dist/glidein --version against node -e 0 (the same Node), interleaved so drift
// on a shared machine hits both alike; two warm-ups each.
say('bench: cold start (20 runs each, interleaved)');
for (let i = 0; i < 2; i++) {
  wall(exe, ['--version']);
  wall(node, ['-e', '0']);
}
const exeRuns = [];
const nodeRuns = [];
for (let i = 0; i < 20; i++) {
  exeRuns.push(wall(exe, ['--version']));
  nodeRuns.push(wall(node, ['-e', '0']));
}
const coldStartMs = median(exeRuns);
const nodeStartMs = median(nodeRuns);

// 2. Validation (validate.mjs: median of 10 runs of dist/glidein validate --format json).
const validate = await part('validate.mjs');
// 3. Launch (launch.mjs: sandbox setuid /bin/true vs spawn and sudo). Root only.
const launch = process.geteuid() === 0 ? await part('launch.mjs', ['--count', quick ? '10' : '30']) : null;
// 4. Refresh load, half-rate latency and scale (refresh.mjs), then the crypto ceiling (ceiling.mjs).
const refresh = await part('refresh.mjs', quick ? ['--duration', '4', '--half-duration', '3', '--scale-seconds', '2', '--scale-pilots', '20000'] : ['--duration', '15', '--half-duration', '10']);
const ceiling = await part('ceiling.mjs', ['--seconds', quick ? '2' : '5']);
// 5. Agent idle memory (agent-rss.mjs).
const rss = await part('agent-rss.mjs');

const figures = {
  coldStartMs: r1(coldStartMs),
  nodeStartMs: r1(nodeStartMs),
  validateMs: r1(validate.validateWallMedianMs),
  launchOverheadMs: launch ? r1(launch.sandboxExecOk - launch.spawnSpawned) : null,
  sandboxLaunchMs: launch ? r1(launch.sandboxExecOk) : null,
  spawnMs: launch ? r1(launch.spawnSpawned) : null,
  spawnExitMs: launch ? r1(launch.spawnExit) : null,
  sudoMs: launch ? r1(launch.sudoExit) : null,
  refreshPerSecond: r1(refresh.max.perSecond),
  refreshMaxP99Ms: r1(refresh.max.p99Ms),
  refreshHalfRatePerSecond: r1(refresh.half.perSecond),
  refreshP50Ms: r1(refresh.half.p50Ms),
  refreshP99Ms: r1(refresh.half.p99Ms),
  refreshCeilingPerSecond: r1(ceiling.perSecond),
  refreshPilots: refresh.pilots,
  // Where the cores go at the max rate: CPU ms per refresh in the service and in the load
  // generator (same 2 cores), next to the crypto alone (cores / ceiling).
  refreshServiceCpuMs: refresh.max.cpuPerRefresh?.serviceMs ?? null,
  refreshLoadGeneratorCpuMs: refresh.max.cpuPerRefresh?.loadGeneratorMs ?? null,
  refreshCryptoCpuMs: Math.round((ceiling.threads / ceiling.perSecond) * 1e6) / 1000,
  refreshErrors: refresh.max.errors + refresh.half.errors,
  agentIdleRssMiB: r1(rss.agentIdleRssMiB),
  nodeIdleRssMiB: r1(rss.nodeIdleRssMiB),
  scaleRatePerSecond: refresh.scale.ratePerSecond,
  scaleRegisteredPilots: refresh.scale.pilots100k.registered,
  refreshP50Ms100Pilots: refresh.scale.pilots100.p50Ms,
  refreshP50Ms100kPilots: refresh.scale.pilots100k.p50Ms,
  refreshP99Ms100Pilots: refresh.scale.pilots100.p99Ms,
  refreshP99Ms100kPilots: refresh.scale.pilots100k.p99Ms,
  scaleLatencyRatio: refresh.scale.p50Ratio,
  stateBytesPerPilot: refresh.scale.stateBytesPerPilot,
};

const rows = [
  ['coldStartMs', figures.coldStartMs, `nodeStartMs ${figures.nodeStartMs}`, figures.coldStartMs / figures.nodeStartMs, '≤ 1.5 × node', figures.coldStartMs <= 1.5 * figures.nodeStartMs],
  ['validateMs', figures.validateMs, 'GlideinWMS shell: tens of s', null, '≤ 300', figures.validateMs <= 300],
  ['launchOverheadMs', figures.launchOverheadMs, `spawn ${figures.spawnMs}, sudo ${figures.sudoMs}`, figures.launchOverheadMs === null ? null : figures.launchOverheadMs / figures.nodeStartMs, '≤ 1.5 × node + 10', figures.launchOverheadMs === null ? null : figures.launchOverheadMs <= 1.5 * figures.nodeStartMs + 10],
  ['refreshPerSecond', figures.refreshPerSecond, `ceiling ${figures.refreshCeilingPerSecond}`, figures.refreshPerSecond / figures.refreshCeilingPerSecond, '≥ 1000 and ≥ 0.5 × ceiling', figures.refreshPerSecond >= 1000 && figures.refreshPerSecond >= 0.5 * figures.refreshCeilingPerSecond],
  ['refreshP99Ms', figures.refreshP99Ms, `at ${figures.refreshHalfRatePerSecond}/s (half max)`, null, '≤ 50', figures.refreshP99Ms <= 50],
  ['agentIdleRssMiB', figures.agentIdleRssMiB, `node idle ${figures.nodeIdleRssMiB}`, figures.agentIdleRssMiB / figures.nodeIdleRssMiB, '≤ 80', figures.agentIdleRssMiB <= 80],
  ['refreshP50Ms100kPilots', figures.refreshP50Ms100kPilots, `100 pilots ${figures.refreshP50Ms100Pilots}`, figures.scaleLatencyRatio, '≤ 1.2 × 100-pilot', figures.scaleLatencyRatio <= 1.2],
  ['stateBytesPerPilot', figures.stateBytesPerPilot, '', null, 'reported', null],
];
const goals = Object.fromEntries(rows.filter((r) => r[5] !== null).map((r) => [r[0], r[5]]));

if (!values.json) {
  const fmt = (v) => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v));
  const table = [['figure', 'value', 'baseline (same run)', 'ratio', 'goal', 'result'], ...rows.map((r) => [r[0], fmt(r[1]), r[2], fmt(r[3]), r[4], r[5] === null ? '' : r[5] ? 'pass' : 'FAIL'])];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log(`\nglidein bench — ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.date}`);
  for (const [i, row] of table.entries()) {
    console.log(row.map((c, j) => c.padEnd(widths[j])).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(`\nrefresh: ${figures.refreshPilots} pilots, max ${figures.refreshPerSecond}/s (p99 ${figures.refreshMaxP99Ms} ms), half rate p50 ${figures.refreshP50Ms} ms; errors ${figures.refreshErrors}; CPU per refresh: service ${figures.refreshServiceCpuMs} ms, load generator ${figures.refreshLoadGeneratorCpuMs} ms, crypto alone ${figures.refreshCryptoCpuMs} ms; scale at ${figures.scaleRatePerSecond}/s: p99 ${figures.refreshP99Ms100Pilots} ms (100) vs ${figures.refreshP99Ms100kPilots} ms (${figures.scaleRegisteredPilots})`);
}
console.log(JSON.stringify({ ...figures, goals, machine, parts: { validate, launch, refresh, ceiling, rss } }));
