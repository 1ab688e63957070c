import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from '../../agent/validators/container.ts';
import { parseRuntimeVersion } from '../../agent/validate/facts/container.ts';
import { resolveHost, type HostOptions } from '../../agent/validate/host.ts';
import type { Requirements } from '../../agent/validate/types.ts';
import { IS_ROOT } from '../helpers/accounts.ts';
import { findExecutable } from '../helpers/system-tools.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';
import { collectContext, fixtureHost, FIXTURES } from '../validate/fixture.ts';

const APPTAINER_DIR = join(FIXTURES, 'bin-apptainer');
const SINGULARITY = join(FIXTURES, 'bin-singularity', 'singularity');
let tmp: string;

/** An apptainer install tree: <prefix>/bin/apptainer and libexec/apptainer/bin/starter-suid. */
function install(prefix: string, setuid: boolean, conf?: string): string {
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  mkdirSync(join(prefix, 'libexec', 'apptainer', 'bin'), { recursive: true });
  const bin = join(prefix, 'bin', 'apptainer');
  copyFileSync(join(APPTAINER_DIR, 'apptainer'), bin);
  chmodSync(bin, 0o755);
  const starter = join(prefix, 'libexec', 'apptainer', 'bin', 'starter-suid');
  writeFileSync(starter, '');
  chmodSync(starter, setuid ? 0o4755 : 0o755);
  if (conf !== undefined) {
    mkdirSync(join(prefix, 'etc', 'apptainer'), { recursive: true });
    writeFileSync(join(prefix, 'etc', 'apptainer', 'apptainer.conf'), conf);
  }
  return bin;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'glidein-container-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(env: NodeJS.ProcessEnv, req: Requirements = {}, tree = 'bare', extra: HostOptions = {}) {
  const facts = await container.collect(collectContext(fixtureHost(tree, env, { cvmfsRoot: join(tmp, 'no-cvmfs'), ...extra }), { requirements: req }));
  return { facts, ...container.check(facts, req) };
}

const userNamespacesHere = spawnSync('unshare', ['-U', 'true']).status === 0;

describe('container', () => {
  it('finds apptainer on PATH with its version, and says whether user namespaces work', async () => {
    const { facts, result, attributes } = await run({ PATH: `${APPTAINER_DIR}:/usr/bin:/bin` }, { container: 'apptainer' });
    expect(facts).toMatchObject({ path: join(APPTAINER_DIR, 'apptainer'), foundVia: 'PATH', flavor: 'apptainer', version: '1.3.4-1.el9', userNamespaces: userNamespacesHere });
    expect(result.status).toBe(userNamespacesHere ? 'pass' : 'fail');
    expect(result.value).toBe(`apptainer 1.3.4-1.el9 (${userNamespacesHere ? 'unprivileged' : 'unusable'})`);
    expect(attributes?.HAS_UNPRIVILEGED_USER_NAMESPACES).toBe(userNamespacesHere);
    if (userNamespacesHere) {
      // Found but no test image: untested, so HAS_SINGULARITY is not claimed (issue 22).
      expect(attributes).toMatchObject({ HAS_SINGULARITY: false, GLIDEIN_Container_Runtime: 'apptainer', GWMS_SINGULARITY_VERSION: 'apptainer 1.3.4-1.el9', GWMS_SINGULARITY_MODE: 'unprivileged' });
      expect(result.detail).toContain('untested');
    }
  });

  it('prefers SINGULARITY_BIN over PATH, and container=singularity accepts it while container=apptainer does not', async () => {
    const env = { SINGULARITY_BIN: SINGULARITY, PATH: `${APPTAINER_DIR}:/usr/bin:/bin` };
    const { facts, result } = await run(env, { container: 'singularity' });
    expect(facts).toMatchObject({ foundVia: 'SINGULARITY_BIN', flavor: 'singularity', version: '3.11.4-1.el8' });
    expect(result.status).toBe(userNamespacesHere ? 'pass' : 'fail');
    const strict = await run(env, { container: 'apptainer' });
    expect(strict.result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
    expect(strict.result.detail).toMatch(/apptainer required, found singularity/);
  });

  it.skipIf(!IS_ROOT)('reports setuid mode when starter-suid is root-owned and setuid, unless the config forbids it', async () => {
    const bin = install(join(tmp, 'setuid'), true);
    expect((await run({ APPTAINER_BIN: bin })).facts.mode).toBe('setuid');
    const forbidden = install(join(tmp, 'forbidden'), true, '# site config\nallow setuid = no\n');
    expect((await run({ APPTAINER_BIN: forbidden })).facts.mode).toBe(userNamespacesHere ? 'unprivileged' : 'unusable');
  });

  it('without setuid and without user namespaces the runtime is unusable: a warning, or a failure when required', async () => {
    // The cgroup-v2 fixture's /proc says max_user_namespaces = 0.
    const bin = install(join(tmp, 'plain'), false);
    const free = await run({ APPTAINER_BIN: bin }, {}, 'cgroup-v2');
    expect(free.facts).toMatchObject({ userNamespaces: false, maxUserNamespaces: 0, mode: 'unusable' });
    expect(free.result.status).toBe('warn');
    expect(free.attributes).toMatchObject({ HAS_SINGULARITY: false, HAS_UNPRIVILEGED_USER_NAMESPACES: false });
    expect((await run({ APPTAINER_BIN: bin }, { container: 'any' }, 'cgroup-v2')).result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });

  it('finds the OSG copy of apptainer on CVMFS when nothing else is there', async () => {
    const cvmfsRoot = join(tmp, 'cvmfs');
    const bin = install(join(cvmfsRoot, 'oasis.opensciencegrid.org', 'mis', 'apptainer'), false);
    const { facts } = await run({ PATH: '/usr/bin:/bin' }, {}, 'bare', { cvmfsRoot });
    expect(facts).toMatchObject({ path: bin, foundVia: 'CVMFS', flavor: 'apptainer' });
  });

  it('with no runtime and none required is a skip; required, a WN_Resource failure', async () => {
    const empty = join(tmp, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const none = await run({ PATH: empty });
    expect(none.result).toMatchObject({ status: 'skip', value: 'none', failure: null });
    expect(none.attributes?.HAS_SINGULARITY).toBe(false);
    expect((await run({ PATH: empty }, { container: 'any' })).result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });

  it('on this machine reports what is installed and the real unshare -U outcome', async () => {
    const facts = await container.collect(collectContext(resolveHost()));
    const onPath = spawnSync('sh', ['-c', 'command -v apptainer || command -v singularity || command -v bwrap']).status === 0;
    expect(facts.path !== null).toBe(onPath || Boolean(process.env.APPTAINER_BIN) || Boolean(process.env.SINGULARITY_BIN));
    expect(facts.userNamespaces).toBe(userNamespacesHere);
  });

  it.each([
    ['apptainer version 1.2.5', { flavor: 'apptainer', version: '1.2.5' }],
    ['singularity-ce version 4.1.0-jammy', { flavor: 'singularity', version: '4.1.0-jammy' }],
    ['singularity version 3.8.7-1.el7', { flavor: 'singularity', version: '3.8.7-1.el7' }],
    ['bubblewrap 0.8.0', { flavor: 'bwrap', version: '0.8.0' }],
    ['something else', null],
  ])('parses the version line %j', (line, expected) => {
    expect(parseRuntimeVersion(line)).toEqual(expected);
  });
});

describe('container with bubblewrap and a test container (issue 22)', () => {
  let skip = false;
  let image: string;
  let bwrapDir: string;
  beforeAll(() => {
    skip = skipWithoutBwrap();
    if (skip) return;
    image = buildBusyboxImage(join(tmp, 'image'));
    bwrapDir = join(tmp, 'bwrap-bin');
    mkdirSync(bwrapDir, { recursive: true });
    symlinkSync(findExecutable('bwrap')!, join(bwrapDir, 'bwrap'));
  });
  const collect = async (env: NodeJS.ProcessEnv, req: Requirements, testImage: string | null, tree = 'bare') => {
    const facts = await container.collect(collectContext(fixtureHost(tree, env, { cvmfsRoot: join(tmp, 'no-cvmfs') }), { requirements: req, containerTestImage: testImage }));
    return { facts, ...container.check(facts, req) };
  };

  it('a test container that ran sets HAS_SINGULARITY and GLIDEIN_Container_Runtime = bwrap, no GWMS_SINGULARITY_*', async (ctx) => {
    if (skip || !userNamespacesHere) return ctx.skip();
    const { facts, result, attributes } = await collect({ PATH: `${bwrapDir}:/usr/bin:/bin` }, { container: 'bwrap' }, image);
    expect(facts).toMatchObject({ flavor: 'bwrap', mode: 'unprivileged', test: { ok: true } });
    expect(result).toMatchObject({ status: 'pass', value: expect.stringMatching(/^bwrap \S+ \(unprivileged\)$/) });
    expect(attributes).toMatchObject({ HAS_SINGULARITY: true, GLIDEIN_Container_Runtime: 'bwrap' });
    expect(attributes).not.toHaveProperty('GWMS_SINGULARITY_VERSION');
  });

  it('without a test image the runtime is found but untested: no HAS_SINGULARITY', async (ctx) => {
    if (skip || !userNamespacesHere) return ctx.skip();
    const { result, attributes } = await collect({ PATH: `${bwrapDir}:/usr/bin:/bin` }, { container: 'bwrap' }, null);
    expect(result.status).toBe('pass');
    expect(result.detail).toContain('untested');
    expect(attributes).toMatchObject({ HAS_SINGULARITY: false, GLIDEIN_Container_Runtime: 'bwrap' });
  });

  it('a runtime that fails the test container is a warning (a failure when required), and no HAS_SINGULARITY', async (ctx) => {
    if (skip || !userNamespacesHere) return ctx.skip();
    const broken = join(tmp, 'broken-bin');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'bwrap'), '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.8.0"; exit 0; }\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n', { mode: 0o755 });
    const free = await collect({ PATH: `${broken}:/usr/bin:/bin` }, {}, image);
    expect(free.result.status).toBe('warn');
    expect(free.result.detail).toMatch(/test container failed.*No permissions to create new namespace/);
    expect(free.attributes?.HAS_SINGULARITY).toBe(false);
    const strict = await collect({ PATH: `${broken}:/usr/bin:/bin` }, { container: 'bwrap' }, image);
    expect(strict.result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });

  it('a test container that never ends is stopped at the probe deadline: a warning, no HAS_SINGULARITY, nothing of it left', async (ctx) => {
    if (skip || !userNamespacesHere) return ctx.skip();
    // A real hang inside a real container: the image's /bin/true sleeps (a stuck image mount, say).
    const hung = buildBusyboxImage(join(tmp, 'hung-image'));
    rmSync(join(hung, 'bin', 'true'));
    writeFileSync(join(hung, 'bin', 'true'), '#!/bin/sh\nexec sleep 987654\n', { mode: 0o755 });
    const facts = await container.collect(collectContext(fixtureHost('bare', { PATH: `${bwrapDir}:/usr/bin:/bin` }, { cvmfsRoot: join(tmp, 'no-cvmfs') }), { requirements: {}, containerTestImage: hung, probeTimeoutMs: 1500 }));
    const { result, attributes } = container.check(facts, {});
    expect(facts.test).toMatchObject({ ok: false, detail: expect.stringContaining('did not finish within 1500 ms') });
    expect(result.status).toBe('warn');
    expect(attributes?.HAS_SINGULARITY).toBe(false);
    const left = () => spawnSync('ps', ['-eo', 'stat=,args=']).stdout.toString().split('\n').filter((l) => l.includes('sleep 987654') && !l.trim().startsWith('Z'));
    for (let i = 0; i < 100 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(left()).toEqual([]);
  });

  it('with user namespaces off (max_user_namespaces = 0) an unprivileged bwrap is unusable and runs no test', async (ctx) => {
    if (skip) return ctx.skip();
    const { facts, attributes } = await collect({ PATH: `${bwrapDir}:/usr/bin:/bin` }, {}, image, 'cgroup-v2');
    expect(facts).toMatchObject({ flavor: 'bwrap', mode: 'unusable', test: null });
    expect(attributes).toMatchObject({ HAS_SINGULARITY: false });
    expect(attributes).not.toHaveProperty('GLIDEIN_Container_Runtime');
  });
});
