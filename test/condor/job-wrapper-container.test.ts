// HTCondor jobs in containers (issue 22): the job ad's SingularityImage (GlideinWMS) or
// ContainerImage (HTCondor) picks the image; the bundle's container entry (in the wrapper config)
// and the policy's `containers` rules decide, and the prepare-job hook holds a job the sandbox
// would refuse (HoldReasonSubCode 4). Run as the starter runs them (wrapper-fixture.ts), with the
// real bwrap and a busybox image, as real accounts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';
import type { NonRootPilot, SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { prepareHook, runJob, scratch, starterSide } from './wrapper-fixture.ts';

let fx: SandboxFixture;
let pilot: NonRootPilot | undefined;
let root: string;
let images: string;

describe.skipIf(!IS_ROOT)('HTCondor jobs in containers', () => {
  beforeAll(async () => {
    if (skipWithoutBwrap()) return;
    const side = await starterSide(['glccalice', 'glccbob'], 'glccpilot');
    if (!side) return;
    ({ fx, pilot, root } = side);
    images = join(fx.dir, 'images');
    mkdirSync(images, { mode: 0o755 });
    buildBusyboxImage(join(images, 'busybox'));
  }, 60_000);
  afterAll(() => {
    pilot?.cleanup();
    fx?.cleanup();
  });

  const policy = () => pilot!.policy({ containers: { runtime: 'bwrap', allowedImageRoots: [images] } });

  it('runs a job whose ad names a SingularityImage in it, as its mapped account, at /srv, with its token inside', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot, root, policy(), await fx.token({ sub: 'alice' }), { adLines: [`SingularityImage = "${join(images, 'busybox')}"`] });
    const w = await runJob(pilot, s, ['/bin/sh', '-c', 'id -u; pwd; echo "HOME=$HOME"; test -r "$BEARER_TOKEN_FILE" && echo token-readable; ls /; echo out > result.txt']);
    expect(await w.done).toBe(0);
    const out = s.stdout().split('\n');
    expect(out[0]).toBe(String(fx.users.a.uid));
    expect(out[1]).toBe('/srv');
    expect(out[2]).toBe('HOME=/srv');
    expect(out[3]).toBe('token-readable');
    // The image's root, not the host's: busybox's /bin and the mount points only.
    expect(out.slice(4).join(' ')).not.toMatch(/\b(home|root|var|etc)\b/);
  }, 60_000);

  it('runs the transferred executable the starter names by its scratch-dir path, seen at /srv inside (found in the real HTCondor trial)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot, root, policy(), await fx.token({ sub: 'alice' }), { adLines: [`SingularityImage = "${join(images, 'busybox')}"`] });
    // As HTCondor 25.14's starter gives it: the executable by its full path in the scratch dir,
    // and _CONDOR_SCRATCH_DIR / _CONDOR_JOB_AD naming host paths there.
    const exe = join(s.dir, 'job.sh');
    writeFileSync(exe, '#!/bin/sh\necho "$0 $1"; echo "scratch=$_CONDOR_SCRATCH_DIR ad=$_CONDOR_JOB_AD"; test -r "$_CONDOR_JOB_AD" && echo ad-readable\n', { mode: 0o755 });
    chownSync(exe, pilot.account.uid, pilot.account.gid);
    const w = await runJob(pilot, s, [exe, join(s.dir, 'input.txt')], { _CONDOR_JOB_AD: join(s.dir, '.job.ad') });
    expect(await w.done).toBe(0);
    expect(s.stdout().split('\n').slice(0, 3)).toEqual(['/srv/job.sh /srv/input.txt', 'scratch=/srv ad=/srv/.job.ad', 'ad-readable']);
  }, 60_000);

  it("keeps the starter's GPU assignment through the identity switch and into the container (issue 23)", async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot, root, policy(), await fx.token({ sub: 'alice' }), { adLines: [`SingularityImage = "${join(images, 'busybox')}"`] });
    // What a starter sets for a slot with one GPU (ENVIRONMENT_FOR_AssignedGPUs: CUDA_VISIBLE_DEVICES=/CUDA//).
    const w = await runJob(pilot, s, ['/bin/sh', '-c', 'id -u; echo "assigned=$_CONDOR_AssignedGPUs cuda=$CUDA_VISIBLE_DEVICES nvidia=${NVIDIA_VISIBLE_DEVICES-unset}"'], { _CONDOR_AssignedGPUs: 'GPU-6d4f0c6a', CUDA_VISIBLE_DEVICES: 'GPU-6d4f0c6a' });
    expect(await w.done).toBe(0);
    expect(s.stdout().split('\n').slice(0, 2)).toEqual([String(fx.users.a.uid), 'assigned=GPU-6d4f0c6a cuda=GPU-6d4f0c6a nvidia=unset']);
  }, 60_000);

  it("under the entry's 'required', a job that names no image runs in the default image", async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot, root, policy(), await fx.token({ sub: 'alice' }), { config: { container: { mode: 'required', defaultImage: join(images, 'busybox') } } });
    const w = await runJob(pilot, s, ['/bin/sh', '-c', 'pwd; test -e /usr/lib && echo host-visible || echo image-only']);
    expect(await w.done).toBe(0);
    expect(s.stdout().split('\n').slice(0, 2)).toEqual(['/srv', 'image-only']);
  }, 60_000);

  it('the hook holds an image outside the allowed roots, a docker:// image, and any image under never (subcode 4, the rule named)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const token = await fx.token({ sub: 'alice' });
    const outside = scratch(pilot, root, policy(), token, { adLines: [`SingularityImage = "${fx.dir}"`] });
    expect((await prepareHook(pilot, outside)).stdout).toMatch(/^HookStatusCode = 4\nHookStatusMessage = "glidein: IMAGE_NOT_ALLOWED: /);
    const docker = scratch(pilot, root, policy(), token, { adLines: ['ContainerImage = "docker://almalinux:9"'] });
    expect((await prepareHook(pilot, docker)).stdout).toMatch(/^HookStatusCode = 4\nHookStatusMessage = "glidein: IMAGE_FORMAT: the job ad's ContainerImage \\"docker:\/\/almalinux:9\\" is not an absolute image path/);
    const never = scratch(pilot, root, policy(), token, { adLines: [`SingularityImage = "${join(images, 'busybox')}"`], config: { container: { mode: 'never', defaultImage: null } } });
    expect((await prepareHook(pilot, never)).stdout).toMatch(/^HookStatusCode = 4\nHookStatusMessage = "glidein: CONTAINER_NOT_ALLOWED: /);
  }, 60_000);
});
