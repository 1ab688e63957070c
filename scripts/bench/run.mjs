#!/usr/bin/env node
// `npm run bench` (issue 8): every figure next to its baseline, all measured in this one run on
// this machine, then a table (figure, baseline, ratio, goal, pass/fail). With --json the last
// line is one JSON object with every figure. Builds dist/ first when it is missing.
// The parts are the scripts beside this one, each run as its own process (so one part's heap,
// JIT and open handles never colour the next): validate.mjs, launch.mjs, refresh.mjs,
// ceiling.mjs, refresh.mjs --postgres, agent-rss.mjs, spool-rss.mjs; cold start is timed here.
// About 4 to 5 minutes on 2 cores. A figure this machine cannot give (not root, no sudo, a part that failed) is reported
// as missing with the reason, in the table and in the JSON's `missing`; the run goes on.
// Usage: npm run bench [-- --json] [-- --quick]   (--quick: shorter runs, for a smoke check)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { median } from './stats.mjs';
import { goals, printTable, rows } from './report.mjs';

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
        const lastErr = err.trim().split('\n').filter((l) => !/^\s+at /.test(l) && l.trim() !== '' && !/^Node\.js v/.test(l)).at(-1) ?? '';
        reject(new Error(`${script} exited ${code} without a result${lastErr ? `: ${lastErr.slice(0, 300)}` : ''}`));
      }
    });
  });
}

/** Figures not measured in this run, each with why (a tool or privilege missing, a part failed). */
const missing = {};
const markMissing = (names, why) => {
  for (const n of names) missing[n] ??= why;
  say(`bench: ${names.join(', ')} not measured: ${why}`);
};

/**
 * One part whose result gives `names`: skipped with `cannot` when that says why it cannot run
 * here, and reported missing (never fatal) when it fails.
 */
async function tryPart(names, script, args, cannot) {
  if (cannot) {
    markMissing(names, cannot);
    return null;
  }
  try {
    return await part(script, args);
  } catch (e) {
    markMissing(names, e.message);
    return null;
  }
}

/** Wall time of one process from spawn to exit. */
function wall(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.error) throw new Error(`${cmd} cannot be started: ${r.error.message}`);
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
let coldStartMs = null;
let nodeStartMs = null;
let coldStartRatioSpread = null;
try {
  const exeRuns = [];
  const nodeRuns = [];
  for (let i = 0; i < 22; i++) {
    const e = wall(exe, ['--version']);
    const n = wall(node, ['-e', '0']);
    if (i < 2) continue;
    exeRuns.push(e);
    nodeRuns.push(n);
  }
  coldStartMs = median(exeRuns);
  nodeStartMs = median(nodeRuns);
  // How noisy: the ratio of each interleaved pair, 10th to 90th percentile.
  const pairs = exeRuns.map((e, i) => e / nodeRuns[i]).sort((a, b) => a - b);
  coldStartRatioSpread = `×${pairs[Math.floor(pairs.length * 0.1)].toFixed(2)}–${pairs[Math.ceil(pairs.length * 0.9) - 1].toFixed(2)}`;
} catch (e) {
  markMissing(['coldStartMs', 'nodeStartMs'], e.message);
}

const root0 = process.geteuid() === 0 ? undefined : 'needs root (setuid identity switching); run the bench as root';
const LAUNCH = ['launchOverheadMs', 'sandboxLaunchMs', 'spawnMs', 'spawnExitMs', 'sudoMs'];
const REFRESH = ['refreshPerSecond', 'refreshMaxP99Ms', 'refreshHalfRatePerSecond', 'refreshP50Ms', 'refreshP99Ms', 'refreshServiceCpuMs', 'refreshLoadGeneratorCpuMs', 'refreshP50Ms100Pilots', 'refreshP50Ms100kPilots', 'refreshP99Ms100Pilots', 'refreshP99Ms100kPilots', 'scaleLatencyRatio', 'stateBytesPerPilot'];
// 2. Validation (validate.mjs: median of 10 runs of dist/glidein validate --format json).
const validate = await tryPart(['validateMs', 'validateNodeStartMs'], 'validate.mjs', []);
// 3. Launch (launch.mjs: sandbox setuid /bin/true vs spawn and sudo). Root only.
const launch = await tryPart(LAUNCH, 'launch.mjs', ['--count', quick ? '10' : '30'], root0);
for (const [k, why] of Object.entries(launch?.missing ?? {})) if (k === 'sudoExit') markMissing(['sudoMs'], why);
// 4. Refresh load, half-rate latency and scale (refresh.mjs), then the crypto ceiling (ceiling.mjs).
const refresh = await tryPart(REFRESH, 'refresh.mjs', quick ? ['--duration', '4', '--half-duration', '3', '--scale-seconds', '2', '--scale-pilots', '20000'] : ['--duration', '15', '--half-duration', '10']);
const ceiling = await tryPart(['refreshCeilingPerSecond', 'refreshCryptoCpuMs'], 'ceiling.mjs', ['--seconds', quick ? '2' : '5']);
// The floor under that CPU: the same load on node:http + the crypto alone (refresh.mjs --floor).
const floor = await tryPart(['refreshFloorCpuMs'], 'refresh.mjs', ['--floor', ...(quick ? ['--duration', '4', '--half-duration', '1'] : ['--duration', '15', '--half-duration', '2'])]);
// The same load with the state in PostgreSQL (refresh.mjs --postgres: a server of its own, fsync on).
const PG = ['refreshPostgresPerSecond', 'refreshPostgresP99Ms', 'refreshPostgresServiceCpuMs', 'refreshPostgresDatabaseCpuMs'];
const refreshPg = await tryPart(PG, 'refresh.mjs', ['--postgres', ...(quick ? ['--duration', '4', '--half-duration', '3'] : ['--duration', '15', '--half-duration', '10'])]);
// 5. Agent memory: idle (agent-rss.mjs) and a setuid spool after three verified jobs (spool-rss.mjs, root only).
const rss = await tryPart(['agentIdleRssMiB', '  anon / file / PSS', '  first run (unsettled)'], 'agent-rss.mjs', []);
// 6. Containers (container.mjs, issue 22): /bin/true in a bwrap container through the sandbox vs bare bwrap.
const container = await tryPart(['containerLaunchMs', 'containerBareMs'], 'container.mjs', ['--count', quick ? '5' : '20']);
const spoolRss = await tryPart(['agentSpoolRssMiB'], 'spool-rss.mjs', [], root0);

const figures = {
  coldStartMs: r1(coldStartMs),
  nodeStartMs: r1(nodeStartMs),
  coldStartRatioSpread,
  validateMs: r1(validate?.validateWallMedianMs),
  validateNodeStartMs: r1(validate?.nodeStartMedianMs),
  launchOverheadMs: launch ? r1(launch.sandboxExecOk - launch.spawnSpawned) : null,
  sandboxLaunchMs: r1(launch?.sandboxExecOk),
  spawnMs: r1(launch?.spawnSpawned),
  spawnExitMs: r1(launch?.spawnExit),
  sudoMs: r1(launch?.sudoExit),
  refreshPerSecond: r1(refresh?.max.perSecond),
  refreshMaxP99Ms: r1(refresh?.max.p99Ms),
  refreshHalfRatePerSecond: r1(refresh?.half.perSecond),
  refreshP50Ms: r1(refresh?.half.p50Ms),
  refreshP99Ms: r1(refresh?.half.p99Ms),
  refreshCeilingPerSecond: r1(ceiling?.perSecond),
  refreshPilots: refresh?.pilots ?? null,
  // Where the cores go at the max rate: CPU ms per refresh in the service and in the load
  // generator (same 2 cores), next to the crypto alone (the ceiling workers' CPU per refresh).
  refreshServiceCpuMs: refresh?.max.cpuPerRefresh?.serviceMs ?? null,
  refreshLoadGeneratorCpuMs: refresh?.max.cpuPerRefresh?.loadGeneratorMs ?? null,
  refreshCryptoCpuMs: ceiling ? (ceiling.cpuMsPerRefresh ?? Math.round((ceiling.threads / ceiling.perSecond) * 1e6) / 1000) : null,
  refreshFloorCpuMs: floor?.max.cpuPerRefresh?.serviceMs ?? null,
  refreshErrors: refresh ? refresh.max.errors + refresh.half.errors : null,
  // PostgreSQL state: the service's CPU per refresh and the database server's beside it.
  refreshPostgresPerSecond: r1(refreshPg?.max.perSecond),
  refreshPostgresP99Ms: r1(refreshPg?.half.p99Ms),
  refreshPostgresServiceCpuMs: refreshPg?.max.cpuPerRefresh.serviceMs ?? null,
  refreshPostgresDatabaseCpuMs: refreshPg?.max.cpuPerRefresh.databaseMs ?? null,
  refreshPostgresErrors: refreshPg ? refreshPg.max.errors + refreshPg.half.errors : null,
  agentIdleRssMiB: r1(rss?.agentIdleRssMiB),
  agentIdleRssAnonMiB: rss?.rssAnonMiB ?? null,
  agentIdleRssFileMiB: rss?.rssFileMiB ?? null,
  agentIdlePssMiB: rss?.pssMiB ?? null,
  agentIdleFirstRunRssMiB: rss?.firstRun?.rss ?? null,
  nodeIdleRssAnonMiB: rss?.nodeIdle?.rssAnonMiB ?? null,
  nodeIdleRssFileMiB: rss?.nodeIdle?.rssFileMiB ?? null,
  nodeIdlePssMiB: rss?.nodeIdle?.pssMiB ?? null,
  containerLaunchMs: r1(container?.containerLaunch),
  containerBareMs: r1(container?.containerBare),
  agentSpoolRssMiB: r1(spoolRss?.agentSpoolRssMiB),
  // The baseline of both memory figures: an idle `node` of the same Node, measured in this run.
  nodeIdleRssMiB: r1(rss?.nodeIdleRssMiB ?? spoolRss?.nodeIdleRssMiB),
  scaleRatePerSecond: refresh?.scale.ratePerSecond ?? null,
  scaleRegisteredPilots: refresh?.scale.pilots100k.registered ?? null,
  refreshP50Ms100Pilots: refresh?.scale.pilots100.p50Ms ?? null,
  refreshP50Ms100kPilots: refresh?.scale.pilots100k.p50Ms ?? null,
  refreshP99Ms100Pilots: refresh?.scale.pilots100.p99Ms ?? null,
  refreshP99Ms100kPilots: refresh?.scale.pilots100k.p99Ms ?? null,
  scaleLatencyRatio: refresh?.scale.p50Ratio ?? null,
  stateBytesPerPilot: refresh?.scale.stateBytesPerPilot ?? null,
};

const table = rows(figures);
if (!values.json) {
  printTable(table, missing, `glidein bench — ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.date}`);
  if (refresh) console.log(`\nrefresh: ${figures.refreshPilots} pilots, max ${figures.refreshPerSecond}/s (p99 ${figures.refreshMaxP99Ms} ms), half rate p50 ${figures.refreshP50Ms} ms; errors ${figures.refreshErrors}; CPU per refresh: service ${figures.refreshServiceCpuMs} ms, load generator ${figures.refreshLoadGeneratorCpuMs} ms, crypto alone ${figures.refreshCryptoCpuMs} ms, node:http + crypto alone (floor) ${figures.refreshFloorCpuMs} ms; scale at ${figures.scaleRatePerSecond}/s: p99 ${figures.refreshP99Ms100Pilots} ms (100) vs ${figures.refreshP99Ms100kPilots} ms (${figures.scaleRegisteredPilots})`);
  if (refreshPg) console.log(`refresh on PostgreSQL: max ${figures.refreshPostgresPerSecond}/s, half rate p99 ${figures.refreshPostgresP99Ms} ms; errors ${figures.refreshPostgresErrors}; CPU per refresh: service ${figures.refreshPostgresServiceCpuMs} ms, database server ${figures.refreshPostgresDatabaseCpuMs} ms`);
}
console.log(JSON.stringify({ ...figures, goals: goals(table), missing, machine, parts: { validate, launch, refresh, ceiling, floor, refreshPg, rss, spoolRss, container } }));
