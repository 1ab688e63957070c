// Benchmark of node validation (issues 3 and 27), a part of `npm run bench`:
//  1. the full validation as users run it: median of 10 runs of `dist/glidein validate --format json`
//     (wall time of the process, and the report's own durationMs), each followed by a run of
//     `node -e 0` of the same Node: the goal is validateMs <= 2.5 x that node start;
//  2. systeminformation against direct /proc and /sys reads for the facts validation needs
//     (CPU count, memory, OS), in fresh processes so module loading counts as it does in the CLI.
// Run: npm run build && node scripts/bench/validate.mjs   (Node 24: type stripping loads the .ts)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exe = join(root, 'dist', 'glidein');
const RUNS = 10;
const fmt = (x) => `${x.toFixed(1)} ms`;

if (!existsSync(exe)) {
  console.error('bench: dist/glidein is missing; run npm run build first');
  process.exit(2);
}

// 1. Full validation, the built executable, interleaved with `node -e 0` of the same Node (the
// goal's baseline: validateMs <= 2.5 x node start), so drift on a shared machine hits both alike.
spawnSync(exe, ['validate', '--format', 'json']); // warm the page cache once
spawnSync(process.execPath, ['-e', '0']);
const wall = [];
const internal = [];
const nodeWall = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const r = spawnSync(exe, ['validate', '--format', 'json'], { encoding: 'utf8' });
  wall.push(performance.now() - t0);
  if (r.status !== 0 && r.status !== 1) {
    console.error(`bench: validate exited ${r.status}: ${r.stderr}`);
    process.exit(1);
  }
  internal.push(JSON.parse(r.stdout).durationMs);
  const n0 = performance.now();
  spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  nodeWall.push(performance.now() - n0);
}

// 2. Facts: one fresh process per sample; the first (cold) collection is timed, after the
// modules are loaded (the executable loads its bundle at start either way); systeminformation's
// own module load is printed apart.
const probes = {
  'direct /proc+/sys (cpu, memory, os facts)': `
    const { resolveHost } = await import(${JSON.stringify(join(root, 'agent/validate/host.ts'))});
    const { collectCpuFacts } = await import(${JSON.stringify(join(root, 'agent/validate/facts/cpu.ts'))});
    const { collectMemoryFacts } = await import(${JSON.stringify(join(root, 'agent/validate/facts/memory.ts'))});
    const { collectOsFacts } = await import(${JSON.stringify(join(root, 'agent/validate/facts/os.ts'))});
    const h = resolveHost();
    const t0 = performance.now();
    await Promise.all([collectCpuFacts(h), collectMemoryFacts(h), collectOsFacts(h)]);
    console.log(performance.now() - t0);`,
  'systeminformation (cpu, mem, osInfo)': `
    const si = (await import('systeminformation')).default;
    const t0 = performance.now();
    await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
    console.log(performance.now() - t0);`,
  'systeminformation module load alone': `
    const t0 = performance.now();
    await import('systeminformation');
    console.log(performance.now() - t0);`,
};
// A comparison only: where systeminformation (a devDependency) is not installed, or a probe
// fails, it is left out with the reason and validateMs still stands.
const factTimes = {};
const factsMissing = {};
for (const [name, code] of Object.entries(probes)) {
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      factsMissing[name] = (r.stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? `exited ${r.status}`).slice(0, 200);
      console.error(`bench: facts via ${name} not measured: ${factsMissing[name]}`);
      break;
    }
    xs.push(Number(r.stdout.trim()));
  }
  if (!(name in factsMissing)) factTimes[name] = median(xs);
}

const result = {
  runs: RUNS,
  validateWallMedianMs: +median(wall).toFixed(1),
  validateWallMinMs: +Math.min(...wall).toFixed(1),
  validateWallMaxMs: +Math.max(...wall).toFixed(1),
  validateReportedMedianMs: median(internal),
  nodeStartMedianMs: +median(nodeWall).toFixed(1),
  validateToNodeStart: +(median(wall) / median(nodeWall)).toFixed(2),
  factsMedianMs: Object.fromEntries(Object.entries(factTimes).map(([k, v]) => [k, +v.toFixed(1)])),
  factsMissing,
  goal: 'validateMs <= 2.5 x node start (the same run, interleaved)',
};
console.log(`validate --format json (dist/glidein), median of ${RUNS}: ${fmt(result.validateWallMedianMs)} wall ` +
  `(min ${fmt(result.validateWallMinMs)}, max ${fmt(result.validateWallMaxMs)}); report durationMs median ${result.validateReportedMedianMs} ms; ` +
  `node -e 0 ${fmt(result.nodeStartMedianMs)} (x ${result.validateToNodeStart}; goal <= 2.5)`);
for (const [k, v] of Object.entries(result.factsMedianMs)) console.log(`facts via ${k}: median ${fmt(v)}`);
console.log(JSON.stringify(result));

