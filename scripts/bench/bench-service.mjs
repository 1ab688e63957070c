// The refresh service for the agent benchmarks: `dist/glidein refresh-service serve` as its own
// process on a free loopback port with a temporary state dir, pilots registered into it with
// bundles written 0600, and a wait for a given line in its JSON log.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPoolKeyFile, parseServiceConfig, registerPilot } from '../../refresh-service/index.ts';
import { freePort } from './stats.mjs';

/** Resolve when `re` matches what `stream` has written (from now on), else reject after `ms`. */
export function waitForLine(stream, re, what, ms = 30_000) {
  return new Promise((resolve, reject) => {
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
}

/** SIGTERM a child that is still running and wait for its exit. */
export async function stopChild(child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** Start the service in `dir` (credentials of `lifetimeS`); stop() ends it. */
export async function startBenchService({ exe, dir, lifetimeS = 60 }) {
  const poolKeyFile = join(dir, 'POOL');
  await createPoolKeyFile(poolKeyFile);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const raw = { trustDomain: 'bench.example.org', poolSigningKeyFile: poolKeyFile, publicUrl: base, idtokenLifetime: lifetimeS, scitokenLifetime: lifetimeS };
  const configFile = join(dir, 'service.json');
  writeFileSync(configFile, JSON.stringify(raw));
  const stateDir = join(dir, 'state');
  const child = spawn(exe, ['refresh-service', 'serve', '--init', '--state', stateDir, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (c) => reject(new Error(`refresh-service serve exited ${c}`)));
  });
  return {
    child,
    /** Wait for the service to log an answer with this path and status. */
    answered: (path, status, what) => waitForLine(child.stderr, new RegExp(`"path":"${path.replace(/\//g, '\\/')}","status":${status}`), what),
    /** Register a pilot; its bundle (0600) at the returned path. */
    async register(glideinId) {
      const bundle = await registerPilot({ stateDir, config: parseServiceConfig(raw, configFile), glideinId, entry: 'CE_BENCH', url: base });
      const path = join(dir, `${glideinId}.bundle.json`);
      writeFileSync(path, JSON.stringify(bundle), { mode: 0o600 });
      return path;
    },
    stop: () => stopChild(child),
  };
}
