#!/usr/bin/env node
// Benchmark (issue 8): agentIdleRssMiB, the resident memory (VmRSS in /proc/<pid>/status) of
// `dist/glidein run` holding one sleeping payload (`-- /bin/sleep 600`) with its refresh loop
// running against a real service (its own process, C-CRED and S-CRED of 60 s, so the agent
// refreshes about every 35 s). Sampled --settle seconds after the first refresh was answered,
// after the agent has also validated the node and posted its first status report. Baseline in
// the same run: an idle `node -e 'setInterval(()=>{},1e3)'` of the same Node.
// Usage: node scripts/bench/agent-rss.mjs [--exe dist/glidein] [--settle 5]. One JSON object on stdout.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPoolKeyFile, parseServiceConfig, registerPilot } from '../../refresh-service/index.ts';
import { freePort, sleep } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { exe: { type: 'string', default: join(root, 'dist', 'glidein') }, settle: { type: 'string', default: '5' } } });
const settleMs = Number(values.settle) * 1000;
const rssMiB = (pid) => {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
};
const waitForLine = (stream, re, what, ms = 30_000) => new Promise((resolve, reject) => {
  let buf = '';
  const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  const on = (d) => {
    buf += d;
    if (re.test(buf)) {
      clearTimeout(t);
      stream.off('data', on);
      resolve();
    }
  };
  stream.on('data', on);
});

const dir = mkdtempSync(join(tmpdir(), 'glidein-bench-rss-'));
const children = [];
try {
  const poolKeyFile = join(dir, 'POOL');
  await createPoolKeyFile(poolKeyFile);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const raw = { trustDomain: 'bench.example.org', poolSigningKeyFile: poolKeyFile, publicUrl: base, idtokenLifetime: 60, scitokenLifetime: 60 };
  const configFile = join(dir, 'service.json');
  writeFileSync(configFile, JSON.stringify(raw));
  const stateDir = join(dir, 'state');
  const svc = spawn(values.exe, ['refresh-service', 'serve', '--state', stateDir, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(svc);
  svc.stderr.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    svc.stdout.once('data', resolve);
    svc.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
  const bundle = await registerPilot({ stateDir, config: parseServiceConfig(raw, configFile), glideinId: 'rss-1', entry: 'CE_RSS', url: base });
  const bundlePath = join(dir, 'bundle.json');
  writeFileSync(bundlePath, JSON.stringify(bundle), { mode: 0o600 });
  const work = join(dir, 'work');
  mkdirSync(work);
  const refreshed = waitForLine(svc.stderr, /"path":"\/v1\/refresh","status":200/, 'the first refresh');
  const statusPosted = waitForLine(svc.stderr, /"path":"\/v1\/status","status":200/, 'the first status report');
  const agent = spawn(values.exe, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '600'], { stdio: ['ignore', 'ignore', 'ignore'] });
  children.push(agent);
  await Promise.all([refreshed, statusPosted]);
  await sleep(settleMs);
  const agentRss = rssMiB(agent.pid);
  // Where it goes: anonymous memory (heaps) vs file-backed pages (the executable's mapped image).
  const st = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
  const kb = (k) => Math.round((Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(st)?.[1] ?? NaN) / 1024) * 10) / 10;
  const breakdown = { rssAnonMiB: kb('RssAnon'), rssFileMiB: kb('RssFile'), rssShmemMiB: kb('RssShmem') };
  if (process.env.GLIDEIN_BENCH_SMAPS) {
    // The largest resident mappings, for finding what holds memory.
    let current = '';
    for (const line of readFileSync(`/proc/${agent.pid}/smaps`, 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) current = line;
      const m = /^Rss:\s+(\d+) kB/.exec(line);
      if (m && Number(m[1]) > 512) console.error(`${m[1].padStart(7)} kB  ${current}`);
    }
  }

  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(idle);
  await sleep(1000);
  const nodeRss = rssMiB(idle.pid);
  console.log(JSON.stringify({ bench: 'agent-rss', agentIdleRssMiB: agentRss, ...breakdown, nodeIdleRssMiB: nodeRss, settleSeconds: settleMs / 1000 }));
} finally {
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
