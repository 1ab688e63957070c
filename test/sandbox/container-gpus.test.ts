// A job's GPUs in its container (issue 23). The device nodes come from the NVIDIA driver's procfs
// ("GPU UUID" and "Device Minor" in /proc/driver/nvidia/gpus/<bus>/information); this machine has
// no GPU, so a fixture tree stands in for /proc/driver/nvidia and plain files for /dev/nvidia*
// (bwrap binds a file as it binds a node). The container itself is real: real bwrap, a busybox
// image, startJob: the job sees its own GPU nodes and the control nodes, no other GPU's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';
import { silentLogger } from '../../shared/log.ts';
import { CredStore } from '../../agent/store/index.ts';
import { parseJobSpec, parsePolicy, startJob } from '../../agent/sandbox/index.ts';
import { gpuDeviceBinds, gpuMinors } from '../../agent/sandbox/gpu-devices.ts';
import { apptainerCommand } from '../../agent/sandbox/container-apptainer.ts';
import { bwrapCommand } from '../../agent/sandbox/container-bwrap.ts';

// Minors deliberately not in UUID order: the node is found by the driver's minor, not by position.
const GPUS: [string, string, number][] = [
  ['0000:07:00.0', 'GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f', 2],
  ['0000:0f:00.0', 'GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a', 0],
  ['0000:47:00.0', 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77', 1],
];

let dir: string;
let paths: { procRoot: string; devRoot: string };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glctrgpu-'));
  const procRoot = join(dir, 'proc');
  const devRoot = join(dir, 'dev');
  mkdirSync(devRoot, { recursive: true });
  for (const [bus, uuid, minor] of GPUS) {
    const d = join(procRoot, 'driver', 'nvidia', 'gpus', bus);
    mkdirSync(d, { recursive: true });
    // The layout of the driver's information file (one "Key: \t value" per line).
    writeFileSync(join(d, 'information'), `Model: \t\t NVIDIA A100-SXM4-40GB\nIRQ:   \t\t 120\nGPU UUID: \t ${uuid}\nVideo BIOS: \t 92.00.36.00.04\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t ${bus}\nDevice Minor: \t ${minor}\nGPU Excluded:\t No\n`);
    writeFileSync(join(devRoot, `nvidia${minor}`), '');
  }
  for (const n of ['nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools']) writeFileSync(join(devRoot, n), '');
  mkdirSync(join(devRoot, 'nvidia-caps'));
  paths = { procRoot, devRoot };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GPU device nodes for a container', () => {
  it('maps each assigned UUID to its driver minor, plus the control nodes the host has', () => {
    expect(gpuMinors(paths.procRoot)).toEqual(new Map(GPUS.map(([, u, m]) => [u.toLowerCase(), m])));
    expect(gpuDeviceBinds([GPUS[0]![1]], paths).map((b) => b.target)).toEqual(['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia2']);
    expect(gpuDeviceBinds([], paths)).toEqual([]);
    // HTCondor's short id (what _CONDOR_AssignedGPUs holds) is a UUID prefix.
    expect(gpuDeviceBinds(['GPU-6d4f0c6a'], paths).map((b) => b.target)).toContain('/dev/nvidia2');
    expect(gpuDeviceBinds(['GPU-6d4f0c6a'], paths).map((b) => b.target)).not.toContain('/dev/nvidia0');
    // A MIG instance has no node of its own: every GPU node and the capability nodes.
    expect(gpuDeviceBinds(['MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f'], paths).map((b) => b.target).sort()).toEqual(['/dev/nvidia-caps', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia0', '/dev/nvidia1', '/dev/nvidia2', '/dev/nvidiactl']);
  });

  it('bwrap binds exactly those nodes; Apptainer gets --nv only for a job with GPUs', () => {
    const img = join(dir, 'empty-image');
    mkdirSync(img, { recursive: true });
    const run = { image: img, workdir: '/w', credentialDir: null, binds: [], env: {}, argv: ['/bin/true'], uid: 1, gid: 1 };
    const devices = gpuDeviceBinds([GPUS[1]![1]], paths);
    const argv = bwrapCommand('/usr/bin/bwrap', { ...run, devices }).argv;
    expect(argv.join(' ')).toContain(`--dev-bind ${join(paths.devRoot, 'nvidia0')} /dev/nvidia0`);
    expect(argv.indexOf('--dev-bind')).toBeGreaterThan(argv.indexOf('--dev')); // onto bwrap's own /dev
    expect(argv.join(' ')).not.toContain('nvidia1');
    expect(apptainerCommand('/usr/bin/apptainer', 'apptainer', { ...run, gpus: true }).argv).toContain('--nv');
    expect(apptainerCommand('/usr/bin/apptainer', 'apptainer', run).argv).not.toContain('--nv');
  });

  it('a job in a real bwrap container sees its own GPU node and the control nodes, no other GPU', async (ctx) => {
    if (skipWithoutBwrap()) return ctx.skip();
    const images = join(dir, 'images');
    mkdirSync(images, { mode: 0o755 });
    const image = buildBusyboxImage(join(images, 'busybox'));
    const work = join(dir, 'job');
    mkdirSync(work, { mode: 0o700 });
    const storeDir = join(dir, 'store');
    mkdirSync(storeDir, { mode: 0o700 });
    const spec = parseJobSpec({
      id: 'gpu-ctr', executable: '/bin/sh', args: ['-c', 'ls /dev | grep nvidia | sort | tr "\\n" " "; echo "$CUDA_VISIBLE_DEVICES"'],
      cwd: work, stdout: join(work, 'out'), stderr: join(work, 'err'), container: { image }, gpus: 1,
    });
    const policy = parsePolicy({ containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
    const r = await startJob(spec, { policy, store: await CredStore.open(storeDir), log: silentLogger, gpus: [GPUS[2]![1]], gpuPaths: paths }).result;
    expect(r, readFileSync(join(work, 'err'), 'utf8')).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(readFileSync(join(work, 'out'), 'utf8')).toBe(`nvidia-uvm nvidia-uvm-tools nvidia1 nvidiactl ${GPUS[2]![1]}\n`);
  }, 60_000);
});
