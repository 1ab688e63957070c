// The service config: defaults, and every mistake named by file and key (exit 2 material).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, loadServiceConfig } from '../../refresh-service/config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glidein-rs-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(content: string): Promise<string> {
  const path = join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, content);
  return path;
}

describe('loadServiceConfig', () => {
  it('fills every key with its default when no file is given, and applies overrides', async () => {
    const c = await loadServiceConfig(undefined, { trustDomain: 'pool.example.org', idtokenLifetime: 900 });
    expect(c).toMatchObject({ ...DEFAULT_CONFIG, trustDomain: 'pool.example.org', idtokenLifetime: 900 });
  });

  it('reads the contract keys from a file and drops a trailing slash from URLs', async () => {
    const c = await loadServiceConfig(await file(JSON.stringify({
      trustDomain: 'pool.example.org', issuer: 'https://iss.example.org/', publicUrl: 'https://rs.example.org:8443/', poolSigningKeyFile: '/k/POOL',
      idtokenLifetime: 600, scitokenLifetime: 1200, refreshFamilyLifetime: 86400, scitoken: { scope: 'compute.read', audience: ['a', 'b'] },
    })));
    expect(c).toMatchObject({ issuer: 'https://iss.example.org', publicUrl: 'https://rs.example.org:8443', scitoken: { scope: 'compute.read', audience: ['a', 'b'] }, refreshFamilyLifetime: 86400 });
  });

  it.each([
    ['an unknown key', '{"trustDomian": "x"}', /unknown key 'trustDomian'/],
    ['a string lifetime', '{"idtokenLifetime": "1h"}', /idtokenLifetime: expected an integer/],
    ['a lifetime too short', '{"scitokenLifetime": 5}', /scitokenLifetime/],
    ['a publicUrl that is not http(s)', '{"publicUrl": "ftp://x"}', /publicUrl: expected an http\(s\) URL/],
    ['a publicUrl with a query', '{"publicUrl": "https://x/?a=1"}', /publicUrl/],
    ['an empty audience list', '{"scitoken": {"audience": []}}', /scitoken.audience/],
    ['an unknown scitoken key', '{"scitoken": {"scopes": "x"}}', /scitoken.scopes/],
    ['a bad rate limit', '{"rateLimit": {"familyBurst": 0}}', /rateLimit.familyBurst/],
    ['a bad synchronous mode', '{"stateSynchronous": "off"}', /stateSynchronous/],
    ['a trust domain with spaces', '{"trustDomain": "a b"}', /trustDomain/],
    ['not JSON', '{', /not valid JSON/],
    ['a JSON array', '[]', /expected a JSON object/],
  ])('refuses %s, naming the file and key', async (_what, content, message) => {
    const path = await file(content);
    const e = await loadServiceConfig(path).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'GLIDEIN_ERR_CONFIG', exitCode: 2 });
    expect((e as Error).message).toContain(path);
    expect((e as Error).message).toMatch(message);
  });

  it('refuses an unreadable config file, naming it', async () => {
    await expect(loadServiceConfig(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining('missing.json') });
  });
});
