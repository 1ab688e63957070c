// The container contract fields, the plan's rules on real paths (symlinks, parents of forbidden
// paths) and the Apptainer command line as its user guide documents it (issue 22). Apptainer
// itself runs only where one is installed: it is not in Debian's archive and cannot be built here.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBind, parseContainerEntry, parseJobContainer, DEFAULT_CONTAINER_ENTRY, type ContainerEntry, type JobContainer } from '../../shared/container-entry.ts';
import { parseContainerPolicy, type ContainerPolicy } from '../../agent/sandbox/container-policy.ts';
import { planContainer, type ContainerPlan } from '../../agent/sandbox/container-plan.ts';
import { apptainerCommand } from '../../agent/sandbox/container-apptainer.ts';
import { bwrapRuntime } from '../../agent/sandbox/container-bwrap.ts';
import { findExecutable } from '../helpers/system-tools.ts';
import { parseJobSpec } from '../../agent/sandbox/job-spec.ts';
import { jobAdContainer } from '../../agent/condor/job-ad-container.ts';

describe('container contract fields', () => {
  it.each([
    ['/cvmfs', { source: '/cvmfs', target: '/cvmfs', readOnly: false }],
    ['/data:/in', { source: '/data', target: '/in', readOnly: false }],
    ['/data:/in:ro', { source: '/data', target: '/in', readOnly: true }],
    ['data', null], ['/a:/b:rx', null], ['/a:/b:ro:x', null], ['/a:in', null], ['/a,/b', null],
  ])('bind %s parses as %j', (text, expected) => {
    expect(parseBind(text)).toEqual(expected);
  });

  it.each([
    [{ image: 'docker://debian' }, 'container.image'],
    [{ image: '/img', binds: ['rel'] }, 'container.binds[0]'],
    [{ image: '/img', extra: 1 }, 'container.extra'],
    ['/img', 'container'],
  ])('a job container %j is refused naming %s', (value, field) => {
    expect(() => parseJobContainer(value, 'GLIDEIN_ERR_JOB_SPEC', 'job.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_JOB_SPEC', details: { field } }));
  });

  it('an entry field: default optional without an image; a bad mode is refused naming it', () => {
    expect(parseContainerEntry(undefined, 'GLIDEIN_ERR_BUNDLE', 'b')).toEqual({ mode: 'optional', defaultImage: null });
    expect(parseContainerEntry({ mode: 'required', defaultImage: '/cvmfs/img' }, 'GLIDEIN_ERR_BUNDLE', 'b')).toEqual({ mode: 'required', defaultImage: '/cvmfs/img' });
    expect(() => parseContainerEntry({ mode: 'always' }, 'GLIDEIN_ERR_BUNDLE', 'b')).toThrow(expect.objectContaining({ details: { field: 'container.mode' } }));
  });

  it("an image path with a tag (':', the OSG layout) is taken alike by the job spec, the entry, the job ad and the policy", () => {
    const tagged = '/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:latest';
    expect(parseJobSpec({ id: 'tag', executable: '/bin/true', cwd: '/srv/w', container: { image: tagged } }, 'job.json').container).toEqual({ image: tagged, binds: [] });
    // The bundle, the condor wrapper config and `exec --default-image` all read the entry so.
    expect(parseContainerEntry({ mode: 'preferred', defaultImage: tagged }, 'GLIDEIN_ERR_BUNDLE', 'b')).toEqual({ mode: 'preferred', defaultImage: tagged });
    expect(jobAdContainer(`SingularityImage = "${tagged}"\n`)).toEqual({ container: { image: tagged } });
    expect(jobAdContainer(`ContainerImage = "${tagged}"\n`)).toEqual({ container: { image: tagged } });
    expect(parseContainerPolicy({ testImage: tagged, allowedImageRoots: ['/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:'] }, 'p')).toMatchObject({ testImage: tagged });
    // A bind cannot hold one: ':' separates its parts (Apptainer's --bind syntax).
    expect(parseBind(`${tagged}:/img:ro`)).toBeNull();
  });

  it('a policy containers key: defaults bind /cvmfs read-only; unknown keys and runtimes are refused', () => {
    expect(parseContainerPolicy(undefined, 'p')).toMatchObject({ runtime: 'auto', allowedImageRoots: null, binds: [{ source: '/cvmfs', target: '/cvmfs', readOnly: true }], forbiddenBinds: [] });
    expect(() => parseContainerPolicy({ runtime: 'docker' }, 'p')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_POLICY', details: { field: 'containers.runtime' } }));
    expect(() => parseContainerPolicy({ allowedRoots: [] }, 'p')).toThrow(expect.objectContaining({ details: { field: 'containers.allowedRoots' } }));
  });
});

describe('the container plan on real paths', () => {
  let dir: string;
  let roots: string;
  let image: string;
  let store: string;
  const runtime = bwrapRuntime('/usr/bin/bwrap');
  const plan = (job: JobContainer | null, over: Partial<ContainerPolicy> = {}, entry: ContainerEntry = DEFAULT_CONTAINER_ENTRY, workdir: string | null = join(dir, 'work')): ContainerPlan =>
    planContainer({ job, entry, policy: { ...parseContainerPolicy({ allowedImageRoots: [roots] }, 'p'), ...over }, workdir, alwaysForbidden: [store], findRuntime: () => runtime });
  const code = (p: ContainerPlan) => (p.kind === 'held' ? p.error.code : p.kind);

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'glplan-')));
    roots = join(dir, 'images');
    image = join(roots, 'busybox');
    for (const d of [image, join(roots, 'osgvo-el9:latest'), join(dir, 'work'), join(dir, 'pilot', 'cred.d'), join(dir, 'outside'), join(dir, 'etc', 'glidein')]) mkdirSync(d, { recursive: true });
    store = join(dir, 'pilot', 'cred.d');
    symlinkSync(join(dir, 'outside'), join(roots, 'escape'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an image under the allowed root runs', () => ({ image: '@image', binds: [] }), 'container'],
    ['an image whose name has a tag (osgvo-el9:latest)', () => ({ image: '@roots/osgvo-el9:latest', binds: [] }), 'container'],
    ['a symlink under the root that leads outside it', () => ({ image: '@roots/escape', binds: [] }), 'IMAGE_NOT_ALLOWED'],
    ['a .. path that leaves the root', () => ({ image: '@roots/../outside', binds: [] }), 'IMAGE_NOT_ALLOWED'],
    ['a missing image', () => ({ image: '@roots/nope', binds: [] }), 'IMAGE_MISSING'],
    ["a bind of the pilot's work dir (a parent of cred.d)", () => ({ image: '@image', binds: [{ source: '@dir/pilot', target: '/p', readOnly: true }] }), 'BIND_FORBIDDEN'],
    ['a bind of a forbidden path\'s parent', () => ({ image: '@image', binds: [{ source: '@dir/etc', target: '/e', readOnly: true }] }), 'BIND_FORBIDDEN'],
    ['a bind onto /srv', () => ({ image: '@image', binds: [{ source: '@dir/outside', target: '/srv/x', readOnly: true }] }), 'BIND_FORBIDDEN'],
    ['a bind of a missing path', () => ({ image: '@image', binds: [{ source: '@dir/none', target: '/x', readOnly: true }] }), 'BIND_MISSING'],
  ])('%s', (_what, make, expected) => {
    const fill = (s: string) => s.replace('@image', image).replace('@roots', roots).replace('@dir', dir);
    const j = make();
    const job: JobContainer = { image: fill(j.image), binds: j.binds.map((b) => ({ ...b, source: fill(b.source) })) };
    expect(code(plan(job, { forbiddenBinds: [join(dir, 'etc', 'glidein')] }))).toBe(expected);
  });

  it('a job work dir that holds the pilot store is refused; a forced bind that is absent is skipped', () => {
    expect(code(plan({ image, binds: [] }, {}, DEFAULT_CONTAINER_ENTRY, dir))).toBe('BIND_FORBIDDEN');
    const p = plan({ image, binds: [] }, { binds: [{ source: join(dir, 'no-cvmfs'), target: '/cvmfs', readOnly: true }] });
    expect(p).toMatchObject({ kind: 'container', container: { binds: [] } });
  });

  it.each([
    ['never', { image: '@', binds: [] }, 'CONTAINER_NOT_ALLOWED'],
    ['never', null, 'bare'],
    ['optional', null, 'bare'],
    ['preferred', null, 'container'],
    ['required', null, 'container'],
  ] as const)("mode %s with job container %j: %s", (mode, job, expected) => {
    const j = job ? { ...job, image } : null;
    expect(code(plan(j, {}, { mode, defaultImage: image }))).toBe(expected);
  });

  it('preferred falls back to bare where no runtime is found; required and a job image are held', () => {
    const none = (job: JobContainer | null, mode: ContainerEntry['mode']) =>
      code(planContainer({ job, entry: { mode, defaultImage: image }, policy: parseContainerPolicy({}, 'p'), workdir: join(dir, 'work'), alwaysForbidden: [store], findRuntime: () => null }));
    expect(none(null, 'preferred')).toBe('bare');
    expect(none(null, 'required')).toBe('NO_CONTAINER_RUNTIME');
    expect(none({ image, binds: [] }, 'optional')).toBe('NO_CONTAINER_RUNTIME');
  });
});

describe('the Apptainer command line (checked against its documented CLI only)', () => {
  const run = { image: '/cvmfs/unpacked.cern.ch/img', workdir: '/scratch/job', credentialDir: '/pilot/cred.d/jobs/j', binds: [{ source: '/cvmfs', target: '/cvmfs', readOnly: true }], env: { A: '1', HOME: '/srv', BEARER_TOKEN_FILE: '/glidein/credentials/storage' }, argv: ['/bin/sh', '-c', 'true'], uid: 1000, gid: 1000 };

  it('is exec --containall --cleanenv --pid --ipc --home WORKDIR:/srv --pwd /srv --bind …, the job env as APPTAINERENV_', () => {
    const c = apptainerCommand('/usr/bin/apptainer', 'apptainer', run);
    expect(c.argv).toEqual([
      '/usr/bin/apptainer', 'exec', '--containall', '--cleanenv', '--pid', '--ipc', '--home', '/scratch/job:/srv', '--pwd', '/srv',
      '--bind', '/pilot/cred.d/jobs/j:/glidein/credentials:ro', '--bind', '/cvmfs:/cvmfs:ro', '/cvmfs/unpacked.cern.ch/img', '/bin/sh', '-c', 'true',
    ]);
    expect(c.env).toEqual({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', APPTAINERENV_A: '1', APPTAINERENV_BEARER_TOKEN_FILE: '/glidein/credentials/storage' });
    expect(apptainerCommand('/usr/bin/singularity', 'singularity', run).env).toHaveProperty('SINGULARITYENV_A', '1');
  });

  it('runs /bin/true in a directory image where an apptainer is installed', (ctx) => {
    const apptainer = findExecutable('apptainer');
    if (!apptainer) {
      // Not a CI tool: Debian has no apptainer package, so this cannot be required.
      console.warn('[skip] apptainer is not installed (not in Debian\'s archive); its command line is checked against the documentation only');
      return ctx.skip();
    }
    const d = realpathSync(mkdtempSync(join(tmpdir(), 'glapp-')));
    try {
      const c = apptainerCommand(apptainer, 'apptainer', { ...run, image: '/', workdir: d, credentialDir: null, binds: [], argv: ['/bin/sh', '-c', 'test "$(pwd)" = /srv && test "$A" = 1'] });
      execFileSync(c.argv[0]!, c.argv.slice(1), { env: c.env, stdio: 'pipe' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
