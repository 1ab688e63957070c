// Credentials are never sent in clear text off the machine (issue 11 item 14): serve without TLS
// only on loopback, bundles with http:// URLs only for loopback hosts, unless allowInsecureHttp.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRefreshService } from '../../refresh-service/index.ts';
import { isLoopbackHost } from '../../refresh-service/transport-policy.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeSandbox, type Sandbox } from './fixture.ts';

let sb: Sandbox;
let configFile: string;
let insecureFile: string;
beforeAll(async () => {
  sb = await makeSandbox();
  configFile = join(sb.dir, 'service.json');
  insecureFile = join(sb.dir, 'insecure.json');
  const base = { trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile };
  await writeFile(configFile, JSON.stringify(base));
  await writeFile(insecureFile, JSON.stringify({ ...base, allowInsecureHttp: true }));
});
afterAll(async () => sb?.cleanup());

describe('clear-text HTTP', () => {
  it.each([
    ['localhost', true], ['127.0.0.1', true], ['127.8.9.10', true], ['::1', true], ['[::1]', true],
    ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['factory.example.org', false], ['128.0.0.1', false],
  ])('treats %s as loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('refuses serve on a non-loopback address without TLS with exit 2 naming --listen and allowInsecureHttp, creating nothing', async () => {
    const state = join(sb.dir, 'never-made');
    const r = await runCli(['refresh-service', 'serve', '--state', state, '--config', configFile, '--listen', '0.0.0.0:0'], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--listen 0.0.0.0:0');
    expect(r.stderr).toContain('allowInsecureHttp');
    expect(existsSync(state)).toBe(false);
  });

  it('refuses a clear-text publicUrl for a non-loopback host at serve', async () => {
    await expect(startRefreshService({ stateDir: sb.stateDir, config: sb.config({ publicUrl: 'http://factory.example.org:8080' }), listen: '127.0.0.1:0' }))
      .rejects.toMatchObject({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining('publicUrl') });
  });

  it('serves on a non-loopback address without TLS when the config allows it knowingly', async () => {
    const s = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ allowInsecureHttp: true }), listen: '0.0.0.0:0' });
    await s.close();
  });

  it.each([
    ['http://factory.example.org:8080', 'the default config', 2],
    ['http://10.1.2.3', 'the default config', 2],
    ['https://factory.example.org', 'the default config', 0],
    ['http://127.0.0.1:8080', 'the default config', 0],
    ['http://factory.example.org:8080', 'allowInsecureHttp', 0],
  ])('register --url %s with %s exits %i', async (url, config, code) => {
    const r = await runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', config === 'allowInsecureHttp' ? insecureFile : configFile, '--glidein-id', `tp-${Math.random().toString(36).slice(2)}`, '--entry', 'CE', '--url', url], { source: true });
    expect(r.code, r.stderr).toBe(code);
    if (code === 2) expect(r.stderr).toMatch(/--url .*allowInsecureHttp/);
  });
});
