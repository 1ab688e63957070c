// The `-- COMMAND` payload in a container with the pilot's GPUs (issue 23): Apptainer runs with
// --cleanenv, so the GPU variables must reach it with the runtime's prefix and the runtime gets
// --nv; bubblewrap passes the environment as is. The runtimes are only planned here (their argv
// and environment), not run: Apptainer is not installed on this machine (a stand-in file is
// named by APPTAINER_BIN); bwrap jobs with GPUs run for real in test/sandbox/container-gpus.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandContainer } from '../../agent/pilot/command-container.ts';
import { CredStore } from '../../agent/store/index.ts';
import { parsePolicy } from '../../agent/sandbox/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'glcmdgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const UUIDS = ['GPU-0a1b2c3d-0000-4a6c-9f7e-1a2b3c4d5e60', 'GPU-1a1b2c3d-1111-4a6c-9f7e-1a2b3c4d5e61'];

describe('the command payload in a container with GPUs', () => {
  it('Apptainer gets --nv and the GPU variables with its APPTAINERENV_ prefix', async () => {
    const work = join(dir, 'work');
    mkdirSync(work, { mode: 0o700 });
    const image = join(dir, 'image.sif');
    writeFileSync(image, 'sif');
    const bin = join(dir, 'apptainer');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const policy = parsePolicy({ containers: { runtime: 'apptainer', allowedImageRoots: [dir] } }).containers;
    const c = commandContainer({ argv: ['/bin/true'], entry: { mode: 'required', defaultImage: image }, policy, workdir: work, store: await CredStore.open(work), bearerFile: null, env: { APPTAINER_BIN: bin, PATH: '/usr/bin:/bin' }, gpus: UUIDS });
    expect(c.kind, JSON.stringify(c)).toBe('container');
    if (c.kind !== 'container') return;
    expect(c.argv).toContain('--nv');
    expect(c.env['APPTAINERENV_CUDA_VISIBLE_DEVICES']).toBe(UUIDS.join(','));
    expect(c.env['APPTAINERENV_NVIDIA_VISIBLE_DEVICES']).toBe(UUIDS.join(','));
    const none = commandContainer({ argv: ['/bin/true'], entry: { mode: 'required', defaultImage: image }, policy, workdir: work, store: await CredStore.open(work), bearerFile: null, env: { APPTAINER_BIN: bin, PATH: '/usr/bin:/bin' } });
    expect(none.kind === 'container' && none.argv).not.toContain('--nv');
  });
});
