// A full disk never breaks the service's state (issue 26 item 2): 'refresh-service rotate-key'
// on a state dir whose file system is full exits 1 with GLIDEIN_ERR_STATE naming the file and
// ENOSPC (no stack), leaves every key as it was and no half-written file, and 'serve' starts
// afterwards with the old key. The state dir lives on a 512 KiB tmpfs (root only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../helpers/run-cli.ts';
import { skipWithout } from '../../helpers/system-tools.ts';
import { mountSmallTmpfs, type SmallTmpfs } from '../../helpers/tmpfs.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';
import { startServe } from './serve-process.ts';

let sb: Sandbox;
let fs: SmallTmpfs;

beforeAll(async () => {
  sb = await makeSandbox();
  fs = await mountSmallTmpfs();
});
afterAll(async () => {
  await fs?.unmount();
  await sb?.cleanup();
});

async function keyFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), 'utf8');
  return out;
}

describe('a full disk under the refresh service state', () => {
  it('rotate-key exits 1 with GLIDEIN_ERR_STATE and ENOSPC, the old key intact, and serve starts afterwards', async (t) => {
    if (skipWithout('a tmpfs mount', fs.dir !== undefined, `${fs.why}; run the tests as root`)) return t.skip();
    const mnt = fs.dir!;
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

    const filler = await fs.fill();
    const r = await runCli(['refresh-service', 'rotate-key', '--state', stateDir, '--log-format', 'json'], { source: true });
    expect(r.code, r.stderr).toBe(1);
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', code: 'GLIDEIN_ERR_STATE', errno: 'ENOSPC' });
    expect(line['msg']).toMatch(new RegExp(`signing key ${keyDir}/[^ ]+\\.jwk: .*ENOSPC: no space left on device`));
    expect(r.stderr).not.toMatch(/\n\s+at |"stack"/);
    // Nothing changed: the same key files, byte for byte, and no temp file left behind.
    expect(await keyFiles(keyDir)).toEqual(before);
    expect((await readdir(stateDir)).sort()).toEqual(stateBefore);

    await rm(filler);
    const again = await startServe(serveArgs);
    expect(again.url, again.stderr()).toBeDefined();
    const jwks = (await (await fetch(`${again.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => `${k.kid}.jwk`)).toEqual(Object.keys(before));
    expect(await again.stop()).toBe(0);
  });
});
