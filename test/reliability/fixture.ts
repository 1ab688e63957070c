// Shared by the reliability suite: the refresh service as its own process (the built executable,
// so SIGKILL means what it means in production), registered pilots with their own DPoP keys,
// and one refresh over loopback that reports the status and never throws on a refusal.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDpopProof, generateDpopKey, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { createPoolKeyFile, parseServiceConfig, registerPilot, type ServiceConfig } from '../../refresh-service/index.ts';
import { EXE } from '../helpers/paths.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

import { freePort } from '../helpers/net.ts';

export { freePort };

/** A temp dir other accounts can traverse but not list (0711), recorded in `dirs` for the file's clean-up. */
export function traversableTempDir(prefix: string, dirs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  chmodSync(dir, 0o711);
  return dir;
}

/** A 0700 directory `name` under `parent`, owned by `owner` (a job's private output dir). */
export function ownedDir(parent: string, owner: { uid: number; gid: number }, name: string): string {
  const d = join(parent, name);
  mkdirSync(d, { mode: 0o700 });
  chownSync(d, owner.uid, owner.gid);
  return d;
}

export interface Pilot {
  id: string;
  token: string;
  key: DpopKey;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface ServiceProcess {
  dir: string;
  stateDir: string;
  config: ServiceConfig;
  port: number;
  base: string;
  refreshUrl: string;
  child: ChildProcess;
  /** The service's JSON log lines so far. */
  log: string[];
  agent: Agent;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  register(id: string, entry?: string): Promise<Pilot>;
  post(path: string, body: string, headers?: Record<string, string | string[]>): Promise<HttpAnswer>;
  refresh(p: Pilot, proof?: string, token?: string): Promise<HttpAnswer>;
  cleanup(): Promise<void>;
}

/** A service process on a fixed free loopback port (so a restart keeps the address). */
export async function startServiceProcess(extra: Record<string, unknown> = {}): Promise<ServiceProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'glidein-reliability-'));
  const stateDir = join(dir, 'state');
  const poolKeyFile = join(dir, 'POOL');
  await createPoolKeyFile(poolKeyFile);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const raw = {
    trustDomain: 'reliability.test', poolSigningKeyFile: poolKeyFile, publicUrl: base,
    rateLimit: { globalPerSecond: 1_000_000, globalBurst: 1_000_000, familyPerMinute: 6_000_000, familyBurst: 1_000_000 },
    ...extra,
  };
  const configFile = join(dir, 'service.json');
  writeFileSync(configFile, JSON.stringify(raw));
  const config = parseServiceConfig(raw, configFile);
  const refreshUrl = `${base}/v1/refresh`;
  const s: ServiceProcess = {
    dir, stateDir, config, port, base, refreshUrl,
    child: undefined as unknown as ChildProcess,
    log: [],
    agent: new Agent({ keepAlive: true, maxSockets: 64 }),
    async start() {
      const child = spawn(EXE, ['--log-format', 'json', 'refresh-service', 'serve', '--init', '--state', stateDir, '--config', configFile, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      s.child = child;
      let partial = '';
      child.stderr!.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        s.log.push(...lines);
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code, sig) => reject(new Error(`serve exited ${code ?? sig}: ${s.log.slice(-5).join('\n')}`)));
      });
    },
    async kill(signal = 'SIGKILL') {
      const child = s.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await gone;
      // Sockets the dead process held must not be reused by the next request.
      s.agent.destroy();
      s.agent = new Agent({ keepAlive: true, maxSockets: 64 });
    },
    async register(id, entry = 'RELIABILITY_CE') {
      const bundle = await registerPilot({ stateDir, config, glideinId: id, entry, url: base });
      return { id, token: bundle.refresh_token, key: await generateDpopKey() };
    },
    post(path, body, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = request(`${base}${path}`, { method: 'POST', agent: s.agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    async refresh(p, proof, token) {
      const dpop = proof ?? (await createDpopProof(p.key, { htm: 'POST', htu: htuOf(refreshUrl) }));
      return s.post('/v1/refresh', JSON.stringify({ refresh_token: token ?? p.token }), { dpop });
    },
    async cleanup() {
      await s.kill('SIGTERM');
      s.agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await s.start();
  return s;
}
