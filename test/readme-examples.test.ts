// The README's refresh-service first try, run as it is written (sh -e, in an empty directory,
// with `glidein` on PATH): a newcomer's copy and paste must work (issue 27 section 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docBlock } from './helpers/doc-blocks.ts';
import { CLI_TS, NODE } from './helpers/paths.ts';

let dir: string;
let shim: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glreadme-'));
  chmodSync(dir, 0o700);
  shim = join(dir, 'bin');
  mkdirSync(shim);
  // `glidein` here is the source entry point under the tests' Node 24: no build needed.
  writeFileSync(join(shim, 'glidein'), `#!/bin/sh\nexec "${NODE}" "${CLI_TS}" "$@"\n`, { mode: 0o755 });
  mkdirSync(join(dir, 'try'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-e', '-c', script], { cwd, env: { ...process.env, PATH: `${shim}:${process.env['PATH'] ?? '/usr/bin:/bin'}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the README's refresh-service first try", () => {
  it('makes a key, registers a pilot into a 0600 bundle and revokes it', async () => {
    const cwd = join(dir, 'try');
    const r = await sh(docBlock('README.md', 'readme-register'), cwd);
    expect(r.code, r.stderr).toBe(0);
    const printed = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(printed).toEqual([{ poolSigningKeyFile: 'POOL' }, { revoked: 1 }]);
    expect(statSync(join(cwd, 'bundle.json')).mode & 0o777).toBe(0o600);
    const bundle = JSON.parse(readFileSync(join(cwd, 'bundle.json'), 'utf8')) as Record<string, unknown>;
    expect(bundle).toMatchObject({ version: 1, glidein_id: 'g-0001', entry: 'CE_Site_A', refresh_url: 'https://rs.example.org:8443', trust_domain: 'rs.example.org' });
    expect(statSync(join(cwd, 'POOL')).mode & 0o777).toBe(0o600);
  });
});
