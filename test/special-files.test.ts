// Issue 26 item 1: a FIFO, socket, device or directory where glidein expects a file is refused
// at once with exit 2 naming the file and what it is. On the old code a FIFO hung the process in
// open() (immune to SIGTERM): each run is killed with SIGKILL after 20 s, so that code fails the
// test (signal SIGKILL, no exit code) instead of hanging the suite. Nothing here measures time.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/run-cli.ts';

let dir: string;
let fifo: string;
let sock: string;
let server: Server;
let job: string;
const run = (args: string[]) => runCli(args, { source: true, timeoutMs: 20_000, killSignal: 'SIGKILL' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-special-'));
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  sock = join(dir, 'sock');
  server = createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  job = join(dir, 'job.json');
  writeFileSync(job, JSON.stringify({ id: 'j1', executable: '/bin/true', args: [] }));
  mkdirSync(join(dir, 'a-dir'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function expectRefused(r: { code: number | null; signal: string | null; stderr: string }, message: RegExp) {
  expect(r.signal).toBeNull();
  expect(r.stderr).toMatch(message);
  expect(r.code).toBe(2);
}

describe('special files are refused, never waited on', () => {
  it('exec --job FIFO', async () => {
    expectRefused(await run(['exec', '--job', fifo]), /job spec .*\/fifo is a FIFO \(named pipe\); expected a regular file/);
  }, 30_000);

  it('exec --policy FIFO', async () => {
    expectRefused(await run(['exec', '--job', job, '--policy', fifo]), /policy file .*\/fifo is a FIFO/);
  }, 30_000);

  it('validate --policy FIFO', async () => {
    expectRefused(await run(['validate', '--policy', fifo]), /policy file .*\/fifo is a FIFO/);
  }, 30_000);

  it('refresh-service serve --config FIFO', async () => {
    expectRefused(await run(['refresh-service', 'serve', '--state', join(dir, 'st1'), '--config', fifo, '--listen', '127.0.0.1:0']), /config file .*\/fifo is a FIFO/);
  }, 30_000);

  it('refresh-service register --config FIFO', async () => {
    expectRefused(await run(['refresh-service', 'register', '--state', join(dir, 'st2'), '--config', fifo, '--glidein-id', 'g1', '--entry', 'e1', '--url', 'https://rs.example.org/']), /config file .*\/fifo is a FIFO/);
  }, 30_000);

  it('a poolSigningKeyFile that is a FIFO (serve)', async () => {
    const config = join(dir, 'fifo-key.json');
    writeFileSync(config, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: fifo }));
    expectRefused(await run(['refresh-service', 'serve', '--state', join(dir, 'st3'), '--config', config, '--listen', '127.0.0.1:0']), /signing key file .*\/fifo is a FIFO/);
  }, 30_000);

  it('a directory, a socket and /dev/zero as the job spec', async () => {
    expectRefused(await run(['exec', '--job', join(dir, 'a-dir')]), /job spec .*\/a-dir is a directory; expected a regular file/);
    expectRefused(await run(['exec', '--job', sock]), /job spec .*\/sock is a socket; expected a regular file/);
    expectRefused(await run(['exec', '--job', '/dev/zero']), /job spec \/dev\/zero is a character device; expected a regular file/);
  }, 70_000);

  it('a policy file over the size bound is refused by its size, not read', async () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024);
    expectRefused(await run(['exec', '--job', job, '--policy', big]), /policy file .*\/big\.json is larger than 1048576 bytes/);
  }, 30_000);

  it('a signing key file that is a directory (register)', async () => {
    const config = join(dir, 'dir-key.json');
    writeFileSync(config, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: join(dir, 'a-dir') }));
    expectRefused(await run(['refresh-service', 'register', '--state', join(dir, 'st4'), '--config', config, '--glidein-id', 'g1', '--entry', 'e1', '--url', 'https://rs.example.org/']), /signing key file .*\/a-dir is a directory/);
  }, 30_000);
});
