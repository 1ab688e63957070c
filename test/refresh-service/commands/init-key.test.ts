// 'refresh-service init-key' makes the POOL key a new factory lacks, and 'serve' without one
// names the config key poolSigningKeyFile and this command (issue 27 section 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSigningKeyFile } from '../../../shared/idtoken.ts';
import { runCli } from '../../helpers/run-cli.ts';

let dir: string;
let config: string;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glidein-init-key-'));
  keyFile = join(dir, 'POOL');
  config = join(dir, 'rs.json');
  await writeFile(config, JSON.stringify({ poolSigningKeyFile: keyFile, trustDomain: 'init.example' }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('glidein refresh-service init-key', () => {
  it('serve without the POOL key exits 2 naming poolSigningKeyFile and init-key', async () => {
    const r = await runCli(['refresh-service', 'serve', '--state', join(dir, 'st0'), '--config', config, '--listen', '127.0.0.1:0'], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`signing key file (poolSigningKeyFile) ${keyFile} does not exist`);
    expect(r.stderr).toContain("glidein refresh-service init-key --config FILE");
    expect(r.stderr).toContain('code=GLIDEIN_ERR_KEY_FILE');
  });

  it('writes a 0600 key that serve and register then use', async () => {
    const r = await runCli(['refresh-service', 'init-key', '--config', config], { source: true });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ poolSigningKeyFile: keyFile });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile).length).toBe(64);
    await readSigningKeyFile(keyFile);
    const reg = await runCli(['refresh-service', 'register', '--state', join(dir, 'st1'), '--config', config, '--glidein-id', 'g1', '--entry', 'CE_A', '--url', 'http://127.0.0.1:8443'], { source: true });
    expect(reg.code, reg.stderr).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ glidein_id: 'g1', entry: 'CE_A' });
  });

  it('refuses to overwrite an existing key (exit 2), leaving it unchanged', async () => {
    const before = readFileSync(keyFile);
    const r = await runCli(['refresh-service', 'init-key', '--config', config], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/signing key file .*POOL already exists; not overwriting it/);
    expect(readFileSync(keyFile).equals(before)).toBe(true);
  });

  it('names a missing directory instead of an internal error', async () => {
    const other = join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ poolSigningKeyFile: join(dir, 'no-such-dir', 'POOL') }));
    const r = await runCli(['refresh-service', 'init-key', '--config', other], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/its directory .*no-such-dir does not exist/);
  });
});
