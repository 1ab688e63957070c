// A full disk never breaks the service's state (issue 26 item 2): 'refresh-service rotate-key'
// on a state dir whose file system is full exits 1 with GLIDEIN_ERR_STATE naming the file and
// ENOSPC (no stack), leaves every key as it was and no half-written file, and 'serve' starts
// afterwards with the old key. The state dir lives on a 512 KiB tmpfs (root only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IS_ROOT } from '../../helpers/accounts.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { skipWithout } from '../../helpers/system-tools.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';
import { startServe } from './serve-process.ts';

let sb: Sandbox;
let mnt: string;
let mounted = false;
let why = '';

beforeAll(async () => {
  sb = await makeSandbox();
  mnt = await mkdtemp(join(tmpdir(), 'glidein-full-'));
  if (!IS_ROOT) {
    why = 'mounting a tmpfs needs root';
    return;
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
  } catch (e) {
    why = `mount -t tmpfs failed: ${(e as Error).message}`;
  }
});
afterAll(async () => {
  if (mounted) execFileSync('umount', [mnt]);
  await rm(mnt, { recursive: true, force: true });
  await sb?.cleanup();
});

/** Fill the file system until a write fails with ENOSPC. */
async function fill(path: string): Promise<void> {
  await writeFile(path, Buffer.alloc(1024 * 1024)).then(
    () => {
      throw new Error('1 MiB fitted on a 512 KiB tmpfs');
    },
    (e: NodeJS.ErrnoException) => expect(e.code).toBe('ENOSPC'),
  );
}

async function keyFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), 'utf8');
  return out;
}

describe('a full disk under the refresh service state', () => {
  it('rotate-key exits 1 with GLIDEIN_ERR_STATE and ENOSPC, the old key intact, and serve starts afterwards', async (t) => {
    if (skipWithout('a tmpfs mount', mounted, `${why}; run the tests as root`)) return t.skip();
    const stateDir = join(mnt, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    const config = join(sb.dir, 'rs.json');
    await writeFile(config, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile }));
    const serveArgs = ['--state', stateDir, '--config', config, '--listen', '127.0.0.1:0', '--log-format', 'json'];
    const first = await startServe(serveArgs);
    expect(first.url, first.stderr()).toBeDefined();
    expect(await first.stop()).toBe(0);
    const keyDir = join(stateDir, 'scitoken-keys');
    const before = await keyFiles(keyDir);
    const stateBefore = (await readdir(stateDir)).sort();
    expect(Object.keys(before)).toHaveLength(1);

    await fill(join(mnt, 'filler'));
    const r = await runCli(['refresh-service', 'rotate-key', '--state', stateDir, '--log-format', 'json'], { source: true });
    expect(r.code, r.stderr).toBe(1);
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', code: 'GLIDEIN_ERR_STATE', errno: 'ENOSPC' });
    expect(line['msg']).toMatch(new RegExp(`signing key ${keyDir}/[^ ]+\\.jwk: .*ENOSPC: no space left on device`));
    expect(r.stderr).not.toMatch(/\n\s+at |"stack"/);
    // Nothing changed: the same key files, byte for byte, and no temp file left behind.
    expect(await keyFiles(keyDir)).toEqual(before);
    expect((await readdir(stateDir)).sort()).toEqual(stateBefore);

    await rm(join(mnt, 'filler'));
    const again = await startServe(serveArgs);
    expect(again.url, again.stderr()).toBeDefined();
    const jwks = (await (await fetch(`${again.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => `${k.kid}.jwk`)).toEqual(Object.keys(before));
    expect(await again.stop()).toBe(0);
  });
});
