// Loading the pilot bundle: only a safe, well-formed, unexpired file is accepted.
import { afterAll, describe, expect, it } from 'vitest';
import { chownSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpointUrl, loadBundle } from '../../agent/pilot/bundle.ts';
import { bundleWire, writeBundle } from '../fixtures/pilot/support.ts';
import { IS_ROOT } from '../helpers/accounts.ts';

const dir = mkdtempSync(join(tmpdir(), 'glidein-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = 1_900_000_000;
const good = () => bundleWire({ refreshUrl: 'https://factory.example:8443', nowS: NOW });

function make(name: string, content: unknown, mode = 0o600): string {
  return writeBundle(join(dir, name), content, mode);
}

describe('loadBundle', () => {
  it('accepts a 0600 bundle owned by us and returns its credentials', () => {
    const b = loadBundle(make('ok.json', good()), NOW);
    expect(b.glideinId).toBe('g-test-1');
    expect(b.credentials.map((c) => c.purpose)).toEqual(['collector', 'vo-service']);
  });

  it.each([
    ['group-readable', () => make('g.json', good(), 0o640), /readable or writable by group or others \(mode 0640\)/],
    ['other-readable', () => make('o.json', good(), 0o604), /mode 0604/],
    ['group-writable', () => make('gw.json', good(), 0o620), /mode 0620/],
    ['a symlink', () => {
      const target = make('target.json', good());
      symlinkSync(target, join(dir, 'link.json'));
      return join(dir, 'link.json');
    }, /symbolic link/],
    ['a directory', () => {
      mkdirSync(join(dir, 'd.json'));
      return join(dir, 'd.json');
    }, /not a regular file/],
    ['missing', () => join(dir, 'nope.json'), /no such file/],
    ['not JSON', () => {
      writeFileSync(join(dir, 'bad.json'), '{"version":', { mode: 0o600 });
      return join(dir, 'bad.json');
    }, /not valid JSON/],
    ['malformed (no refresh token)', () => make('m.json', { ...good(), refresh_token: 'short' }), /refresh_token/],
    ['expired', () => make('e.json', { ...good(), expires_at: NOW - 1 }), /expired at/],
    ['with an empty refresh_url list', () => make('u0.json', { ...good(), refresh_url: [] }), /refresh_url: expected an http\(s\) URL or a list of 1 to 8/],
    ['with a refresh_url list holding a non-URL', () => make('u1.json', { ...good(), refresh_url: ['https://a.example', 'nope'] }), /refresh_url\[1\]: 'nope' is not a URL/],
    ['with a refresh_url list holding a file: URL', () => make('u2.json', { ...good(), refresh_url: ['https://a.example', 'file:///etc/passwd'] }), /refresh_url\[1\]: expected http: or https:/],
    ['already used by a pilot (refresh token moved out)', () => {
      const { refresh_token: _t, ...rest } = good();
      return make('used.json', { ...rest, refresh_token_moved_at: NOW - 60 });
    }, /was already used by a pilot/],
  ])('refuses a bundle that is %s with GLIDEIN_ERR_BUNDLE naming the problem', (_n, path, message) => {
    let err: unknown;
    try {
      loadBundle(path(), NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'GLIDEIN_ERR_BUNDLE', exitCode: 2 });
    expect((err as Error).message).toMatch(message);
  });

  it('accepts a list of refresh URLs and keeps their order (the first is preferred)', () => {
    const b = loadBundle(make('list.json', { ...good(), refresh_url: ['https://a.example:8443', 'https://b.example:8443/glidein'] }), NOW);
    expect(b.refreshUrls).toEqual(['https://a.example:8443', 'https://b.example:8443/glidein']);
    expect(b.refreshUrl).toBe('https://a.example:8443');
  });

  it.runIf(IS_ROOT)('refuses a bundle owned by another account', () => {
    const p = make('foreign.json', good());
    chownSync(p, 65534, 65534);
    expect(() => loadBundle(p, NOW)).toThrow(/owned by uid 65534/);
  });
});

describe('endpointUrl', () => {
  it.each([
    ['https://f.example:8443', 'https://f.example:8443/v1/status'],
    ['https://f.example:8443/', 'https://f.example:8443/v1/status'],
    ['https://f.example/glidein', 'https://f.example/glidein/v1/status'],
    ['https://f.example/glidein/v1/refresh', 'https://f.example/glidein/v1/status'],
  ])('derives the status endpoint from refresh_url %s', (url, want) => {
    expect(endpointUrl(url, '/v1/status')).toBe(want);
  });
});
