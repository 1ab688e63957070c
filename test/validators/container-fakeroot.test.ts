// Fakeroot mode in validation (issue 22): not setuid, user namespaces working, and a /etc/subuid
// + /etc/subgid block for the validating account that a real user namespace gets mapped
// (newuidmap, through `unshare --map-auto`). Through the real CLI as real accounts (root only):
// one given a block with usermod reports `bwrap … (fakeroot)`, one without reports
// `(unprivileged)` and says why; a block the files claim but the system does not map is
// reported present but not working. Skips, saying why, without bwrap, unshare or newuidmap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subidBlock, collectFakeroot } from '../../agent/validate/facts/container-fakeroot.ts';
import { resolveHost } from '../../agent/validate/host.ts';
import { ensureAccount, IS_ROOT, removeAccount, type TestAccount } from '../helpers/accounts.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { findExecutable, skipWithoutTool } from '../helpers/system-tools.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';

describe('subordinate id blocks', () => {
  it.each([
    ['glfr:100000:65536\n', 'glfr', 1500, '100000:65536'],
    ['other:1:2\n1500:200000:10\n', 'glfr', 1500, '200000:10'],
    ['glfr:100000:0\n# glfr:1:2\nglfr:x:5\n', 'glfr', 1500, null],
    ['', 'glfr', 1500, null],
  ])('%j for %s (uid %i) is %s', (text, name, uid, expected) => {
    expect(subidBlock(text, name, uid)).toBe(expected);
  });
});

const userNamespaces = spawnSync('unshare', ['-U', 'true']).status === 0;
const RANGE = '2000000000-2000065535';

describe.skipIf(!IS_ROOT)('validation reports fakeroot mode', () => {
  let skip = false;
  let dir: string;
  let policy: string;
  let withBlock: TestAccount;
  let without: TestAccount;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glvalfr-'));
    skip = skipWithoutBwrap() || skipWithoutTool('unshare', 'install util-linux') || skipWithoutTool('newuidmap', 'install uidmap (newuidmap, newgidmap)');
    if (!skip && !userNamespaces) {
      console.warn('[skip] fakeroot validation tests: unprivileged user namespaces do not work here (unshare -U failed)');
      skip = true;
    }
    if (skip) return;
    execFileSync('chmod', ['755', dir]);
    policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ containers: { testImage: buildBusyboxImage(join(dir, 'image')) } }));
    withBlock = ensureAccount('glfrwith');
    without = ensureAccount('glfrwithout');
    execFileSync('usermod', ['--add-subuids', RANGE, '--add-subgids', RANGE, withBlock.name]);
  });
  afterAll(() => {
    if (withBlock) spawnSync('usermod', ['--del-subuids', RANGE, '--del-subgids', RANGE, withBlock.name]);
    for (const a of [withBlock, without]) if (a) removeAccount(a.name);
    rmSync(dir, { recursive: true, force: true });
  });

  function validateAs(a: TestAccount): { value: string; detail: string; attributes: Record<string, unknown> } {
    const p = spawnSync(findExecutable('runuser')!, ['-u', a.name, '--', NODE, CLI_TS, 'validate', '--format', 'json', '--policy', policy, '--require', 'container=bwrap'], { encoding: 'utf8', cwd: '/', timeout: 60_000 });
    const report = JSON.parse(p.stdout || '{"checks":[]}') as { checks: { name: string; value: string; detail: string }[]; attributes: Record<string, unknown> };
    const c = report.checks.find((x) => x.name === 'container');
    expect(c, p.stderr).toBeDefined();
    return { value: c!.value, detail: c!.detail, attributes: report.attributes };
  }

  it('an account with a subuid/subgid block that maps: mode fakeroot, and the container check still passes', (ctx) => {
    if (skip) return ctx.skip();
    expect(readFileSync('/etc/subuid', 'utf8')).toContain(`${withBlock.name}:2000000000:65536`);
    const r = validateAs(withBlock);
    expect(r.value).toMatch(/^bwrap \S+ \(fakeroot\)$/);
    expect(r.detail).toContain('fakeroot: yes (subuid 2000000000:65536, subgid 2000000000:65536: mapped in a user namespace');
    expect(r.attributes).toMatchObject({ HAS_SINGULARITY: true, GLIDEIN_Container_Runtime: 'bwrap' });
  });

  it('an account without one: mode unprivileged, saying there is no block', (ctx) => {
    if (skip) return ctx.skip();
    const r = validateAs(without);
    expect(r.value).toMatch(/^bwrap \S+ \(unprivileged\)$/);
    expect(r.detail).toContain(`fakeroot: no (no /etc/subuid block for ${without.name})`);
  });

  it('a block the files give but the system does not map is present but not working', async (ctx) => {
    if (skip) return ctx.skip();
    // The host's files (a fixture /etc) give root a block; the real /etc/subuid, which
    // newuidmap reads, does not: the user namespace really fails to get it.
    if (subidBlock(readFileSync('/etc/subuid', 'utf8'), 'root', 0) !== null) return ctx.skip();
    const etc = join(dir, 'etc');
    mkdirSync(etc);
    for (const f of ['subuid', 'subgid']) writeFileSync(join(etc, f), 'root:3000000000:65536\n');
    const r = await collectFakeroot(resolveHost({ etcRoot: etc }), { timeoutMs: 10_000, signal: new AbortController().signal });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/^subuid 3000000000:65536, subgid 3000000000:65536 present, but mapping it failed: /);
  });
});
