#!/usr/bin/env node
// Benchmark: payload launch overhead of the sandbox in setuid mode (/bin/true mapped to
// `nobody`), next to a plain child_process.spawn('/bin/true') and `sudo -n -u nobody /bin/true`,
// measured in the same run. Root only (setuid mode needs it).
//   sandbox→exec-ok   startJob() until the close-on-exec channel reports the payload running
//   sandbox→result    startJob() until the result (payload ran, leftovers swept, creds wiped)
//   exe→exec-ok       `dist/glidein exec` as a process: spawn until its "payload started" log line (if built)
//   exe wall          the same, spawn until exit
//   spawn→spawned     spawn('/bin/true') until its 'spawn' event;  spawn→exit until 'exit'
//   sudo→exit         spawn('sudo -n -u nobody /bin/true') until 'exit' (null, with the reason in
//                     `missing.sudoExit`, where sudo is not installed or refuses)
// Usage: node scripts/bench/launch.mjs [--count N]   (prints one JSON object on stdout)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { parseJobSpec, parsePolicy, startJob } from '../../agent/sandbox/index.ts';
import { CredStore } from '../../agent/store/index.ts';
import { createLogger } from '../../shared/log.ts';
import { median as medianOf } from './stats.mjs';

const { values } = parseArgs({ options: { count: { type: 'string', default: '40' } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) {
  console.error('--count must be a positive integer');
  process.exit(2);
}
if (process.geteuid() !== 0) {
  console.error('launch benchmark: setuid mode needs root');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exe = join(root, 'dist', 'glidein');

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-launch-'));
chmodSync(dir, 0o711);
const median = (a) => +medianOf(a).toFixed(2);
/** Why `sudo -n -u nobody /bin/true` cannot serve as a baseline here, or undefined when it can. */
function sudoUnusable() {
  const r = spawnSync('sudo', ['-n', '-u', 'nobody', '/bin/true'], { stdio: 'ignore' });
  if (r.error?.code === 'ENOENT') return 'sudo is not installed (not on PATH)';
  if (r.error) return `sudo cannot be started: ${r.error.message}`;
  return r.status === 0 ? undefined : `sudo -n -u nobody /bin/true exited ${r.status}`;
}
const timeProcess = (cmd, args, event = 'exit') =>
  new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.once('error', reject);
    p.once(event, () => resolve(performance.now() - t));
  });

try {
  const iss = 'https://bench.example';
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] }));
  writeFileSync(join(dir, 'mapfile'), 'SCITOKENS /^https:\\/\\/bench\\.example,bench$/ nobody\n');
  const policyObj = { identity: 'setuid', mapfile: join(dir, 'mapfile'), issuers: { [iss]: { jwksFile: join(dir, 'jwks.json') } }, audience: 'https://bench.example/site' };
  const policy = parsePolicy(policyObj, 'bench policy');
  const token = await new SignJWT({ aud: 'https://bench.example/site' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer(iss).setSubject('bench').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  const specObj = { id: 'bench', executable: '/bin/true', cwd: '/', identity: token };
  const store = await CredStore.open(dir);

  const execOk = [];
  const result = [];
  for (let i = 0; i < count + 3; i++) {
    let startedAt = 0;
    const log = createLogger({ format: 'json', level: 'info', sink: { write: (l) => (l.includes('"payload started"') ? (startedAt = performance.now()) : 0, true) } });
    const t = performance.now();
    const r = await startJob(parseJobSpec({ ...specObj, id: `bench-${i}` }), { policy, store, log, ...(existsSync(exe) ? { wrapperCommand: [exe] } : {}) }).result;
    const end = performance.now();
    if (r.state !== 'completed') throw new Error(`bench job ${r.state}: ${r.reason}`);
    if (i < 3) continue; // warm-up
    execOk.push(startedAt - t);
    result.push(end - t);
  }

  const exeWall = [];
  const exeExecOk = [];
  if (existsSync(exe)) {
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policyObj));
    writeFileSync(join(dir, 'job.json'), JSON.stringify(specObj));
    for (let i = 0; i < Math.min(count, 20); i++) {
      // The executable logs "payload started" (JSON, ms timestamps) when the channel says exec succeeded.
      const r = await new Promise((resolve, reject) => {
        const t0 = Date.now();
        const p0 = performance.now();
        const p = spawn(exe, ['exec', '--job', join(dir, 'job.json'), '--policy', join(dir, 'policy.json'), '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.once('error', reject);
        p.once('close', () => {
          const line = err.split('\n').find((l) => l.includes('"payload started"'));
          resolve({ wall: performance.now() - p0, execOk: line ? Date.parse(JSON.parse(line).ts) - t0 : NaN });
        });
      });
      exeWall.push(r.wall);
      exeExecOk.push(r.execOk);
    }
  }
  const spawned = [];
  const spawnExit = [];
  const sudo = [];
  const noSudo = sudoUnusable();
  for (let i = 0; i < count; i++) {
    spawned.push(await timeProcess('/bin/true', [], 'spawn'));
    spawnExit.push(await timeProcess('/bin/true', []));
    if (!noSudo) sudo.push(await timeProcess('sudo', ['-n', '-u', 'nobody', '/bin/true']));
  }
  await store.wipeAll();
  console.log(JSON.stringify({
    benchmark: 'launch', count, unit: 'ms (median)',
    sandboxExecOk: median(execOk), sandboxResult: median(result),
    exeExecOk: exeExecOk.length ? median(exeExecOk) : null, exeWall: exeWall.length ? median(exeWall) : null,
    spawnSpawned: median(spawned), spawnExit: median(spawnExit), sudoExit: noSudo ? null : median(sudo),
    missing: noSudo ? { sudoExit: noSudo } : {},
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
