#!/usr/bin/env node
// Benchmark (issue 22): /bin/true in a bubblewrap container through the sandbox, next to the bare
// runtime with the same image and mounts, measured in the same run.
//   containerLaunch   startJob() of a job naming the image until its result (identity none)
//   containerBare     spawn(bwrap … /bin/true) until exit (the argv the sandbox builds, without
//                     its status descriptor)
// The image is a busybox tree built here from a static /bin/busybox (Debian busybox-static).
// Usage: node scripts/bench/container.mjs [--count N]   (prints one JSON object on stdout)
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { parseJobSpec, parsePolicy, startJob } from '../../agent/sandbox/index.ts';
import { findContainerRuntime } from '../../agent/sandbox/container-find.ts';
import { CredStore } from '../../agent/store/index.ts';
import { createLogger } from '../../shared/log.ts';
import { median as medianOf } from './stats.mjs';

const { values } = parseArgs({ options: { count: { type: 'string', default: '20' } } });
const count = Number(values.count);
const bwrap = findContainerRuntime('bwrap');
if (!bwrap) {
  console.error('container benchmark: bwrap is not installed (apt-get install bubblewrap)');
  process.exit(2);
}
if (!existsSync('/bin/busybox')) {
  console.error('container benchmark: no /bin/busybox (apt-get install busybox-static)');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exe = join(root, 'dist', 'glidein');
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'glidein-bench-container-')));
const median = (a) => +medianOf(a).toFixed(2);
try {
  const image = join(dir, 'image');
  mkdirSync(join(image, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(image, 'bin', 'busybox'));
  chmodSync(join(image, 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', join(image, 'bin', 'true'));
  const work = join(dir, 'work');
  mkdirSync(work);
  const policy = parsePolicy({ identity: 'none', containers: { runtime: 'bwrap' } }, 'bench policy');
  mkdirSync(join(dir, 'store'), { mode: 0o700 });
  const store = await CredStore.open(join(dir, 'store'));
  const log = createLogger({ format: 'json', level: 'warn', sink: { write: () => true } });
  const launch = [];
  for (let i = 0; i < count + 2; i++) {
    const spec = parseJobSpec({ id: `c-${i}`, executable: '/bin/true', cwd: work, container: { image } });
    const t = performance.now();
    const r = await startJob(spec, { policy, store, log, ...(existsSync(exe) ? { wrapperCommand: [exe] } : {}) }).result;
    const ms = performance.now() - t;
    if (r.state !== 'completed') throw new Error(`bench job ${r.state}: ${r.reason}`);
    if (i >= 2) launch.push(ms);
  }
  const cmd = bwrap.command({ image, workdir: work, credentialDir: null, binds: [], env: { PATH: '/bin' }, argv: ['/bin/true'], uid: process.getuid(), gid: process.getgid() });
  const argv = cmd.argv.filter((a, i, all) => a !== '--json-status-fd' && all[i - 1] !== '--json-status-fd');
  const bare = [];
  for (let i = 0; i < count + 2; i++) {
    const t = performance.now();
    const code = await new Promise((resolve, reject) => {
      const p = spawn(argv[0], argv.slice(1), { stdio: 'ignore', env: cmd.env });
      p.once('error', reject);
      p.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`bare bwrap exited ${code}`);
    if (i >= 2) bare.push(performance.now() - t);
  }
  await store.wipeAll();
  console.log(JSON.stringify({ benchmark: 'container', count, unit: 'ms (median)', wrapper: existsSync(exe) ? 'dist/glidein' : 'source', containerLaunch: median(launch), containerBare: median(bare) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
