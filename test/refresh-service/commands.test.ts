// The refresh-service commands through the built executable: serve, register and revoke against
// one state dir while the server runs, SIGTERM drains and exits 0, kill -9 loses nothing a
// pilot was told, and configuration mistakes exit 2 naming the culprit.
import { freePort } from '../helpers/net.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateDpopKey } from '../../shared/dpop.ts';
import { parseBundle } from '../../shared/protocol.ts';
import { EXE } from '../helpers/paths.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeSandbox, refresh, type Sandbox } from './fixture.ts';

let sb: Sandbox;
let configFile: string;


interface Serving {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

async function serve(args: string[]): Promise<Serving> {
  const child = spawn(EXE, ['refresh-service', 'serve', '--init', ...args, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    void exited.then((r) => reject(new Error(`serve exited ${r.code}: ${r.stderr}`)));
  });
  return { child, url, exited };
}

async function register(id: string, entry: string, url: string) {
  const r = await runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', configFile, '--glidein-id', id, '--entry', entry, '--url', url]);
  expect(r.code, r.stderr).toBe(0);
  return parseBundle(JSON.parse(r.stdout));
}

beforeAll(async () => {
  sb = await makeSandbox();
  configFile = join(sb.dir, 'service.json');
  await writeFile(configFile, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, idtokenLifetime: 600 }));
});
afterAll(async () => {
  await sb?.cleanup();
});

describe('glidein refresh-service (built executable)', () => {
  it('registers and revokes against the state dir of a running server, and drains on SIGTERM with exit 0', async () => {
    const s = await serve(['--state', sb.stateDir, '--config', configFile, '--listen', '127.0.0.1:0']);
    try {
      const a = await register('cli-a', 'CE_CLI', s.url);
      const b = await register('cli-b', 'CE_CLI', s.url);
      expect(a.refreshUrl).toBe(s.url);
      const key = await generateDpopKey();
      const c = await register('cli-c', 'CE_CLI', s.url);
      const a1 = await refresh(s.url, a.refreshToken, key);
      expect(a1.status).toBe(200);
      const byId = await runCli(['refresh-service', 'revoke', '--state', sb.stateDir, '--glidein-id', 'cli-a']);
      expect(byId.code, byId.stderr).toBe(0);
      expect(JSON.parse(byId.stdout)).toEqual({ revoked: 1 });
      expect((await refresh(s.url, a1.body['refresh_token'] as string, key)).body['error']).toBe('invalid_grant');
      expect((await refresh(s.url, c.refreshToken, await generateDpopKey())).status).toBe(200);
      const byEntry = await runCli(['refresh-service', 'revoke', '--state', sb.stateDir, '--entry', 'CE_CLI']);
      expect(byEntry.code, byEntry.stderr).toBe(0);
      expect(JSON.parse(byEntry.stdout)).toEqual({ revoked: 2 });
      expect((await refresh(s.url, b.refreshToken, key)).body['error']).toBe('invalid_grant');
    } finally {
      s.child.kill('SIGTERM');
    }
    const end = await s.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toContain('refresh service stopped');
    // No token reached the log.
    expect(end.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });

  it('finishes a request already in flight when SIGTERM arrives, then exits 0', async () => {
    const { request } = await import('node:http');
    const { createDpopProof } = await import('../../shared/dpop.ts');
    const s = await serve(['--state', sb.stateDir, '--config', configFile, '--listen', '127.0.0.1:0']);
    const bundle = await register('cli-drain', 'CE_DRAIN', s.url);
    const key = await generateDpopKey();
    const body = JSON.stringify({ refresh_token: bundle.refreshToken });
    const dpop = await createDpopProof(key, { htm: 'POST', htu: `${s.url}/v1/refresh` });
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(`${s.url}/v1/refresh`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), dpop } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // Half the body now, SIGTERM, the rest later: the request is in flight during the drain.
      req.write(body.slice(0, 10));
      setTimeout(() => s.child.kill('SIGTERM'), 100);
      setTimeout(() => req.end(body.slice(10)), 400);
    });
    expect(await answer).toBe(200);
    const end = await s.exited;
    expect(end.code, end.stderr).toBe(0);
  });

  it('keeps the last issued refresh token valid across kill -9 and a restart', async () => {
    const port = await freePort();
    const cfg = join(sb.dir, 'fixed.json');
    await writeFile(cfg, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, publicUrl: `http://127.0.0.1:${port}` }));
    const args = ['--state', sb.stateDir, '--config', cfg, '--listen', `127.0.0.1:${port}`];
    const first = await serve(args);
    const bundle = await register('cli-k9', 'CE_K9', first.url);
    const key = await generateDpopKey();
    const r1 = await refresh(first.url, bundle.refreshToken, key);
    expect(r1.status).toBe(200);
    const told = r1.body['refresh_token'] as string;
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const second = await serve(args);
    try {
      const r2 = await refresh(second.url, told, key);
      expect(r2.status, JSON.stringify(r2.body)).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it.each([
    ['an unknown config key', { trustDomain: 'x', bogusKey: 1 }, /bogusKey/],
    ['a bad lifetime', { idtokenLifetime: 'soon' }, /idtokenLifetime/],
    ['a missing pool key file', { poolSigningKeyFile: '/nonexistent/POOL' }, /\/nonexistent\/POOL/],
  ])('exits 2 on %s, naming it', async (_what, cfg, message) => {
    const file = join(sb.dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ poolSigningKeyFile: sb.poolKeyFile, ...cfg }));
    const r = await runCli(['refresh-service', 'serve', '--state', join(sb.dir, 'bad-state'), '--config', file, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 when the pool key file is readable by others', async () => {
    const key = join(sb.dir, 'POOL-open');
    await writeFile(key, Buffer.alloc(64, 1));
    await chmod(key, 0o644);
    const file = join(sb.dir, 'open-key.json');
    await writeFile(file, JSON.stringify({ poolSigningKeyFile: key }));
    const r = await runCli(['refresh-service', 'serve', '--state', join(sb.dir, 'bad-state'), '--config', file, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('POOL-open');
  });

  it('exits 2 when the listen address is busy, naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['refresh-service', 'serve', '--init', '--state', join(sb.dir, 'busy-state'), '--config', configFile, '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });

  it.each([
    [['refresh-service', 'serve'], /--state is required/],
    [['refresh-service', 'revoke', '--state', '/tmp/x'], /exactly one of --glidein-id or --entry/],
    [['refresh-service', 'register', '--state', '/tmp/x', '--glidein-id', 'a b', '--entry', 'E', '--url', 'http://h'], /--glidein-id 'a b'/],
    [['refresh-service', 'serve', '--state', '/tmp/x', '--listen', 'nowhere'], /--listen 'nowhere'/],
  ])('exits 2 on %j naming the flag', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
