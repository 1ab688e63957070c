import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { gpu, shortGpuId, checkGpu, cudaAtLeast } from '../../agent/validators/gpu.ts';
import { parseCudaVersion, visibleDevices, type GpuDevice } from '../../agent/validate/facts/gpu.ts';
import { collectContext, fixtureHost, FIXTURES } from '../validate/fixture.ts';

const PATH_GPU = `${join(FIXTURES, 'bin-gpu')}:/usr/bin:/bin`;
const PATH_BROKEN = `${join(FIXTURES, 'bin-gpu-broken')}:/usr/bin:/bin`;

async function run(env: NodeJS.ProcessEnv, required?: number) {
  const req = required === undefined ? {} : { gpus: required };
  const facts = await gpu.collect(collectContext(fixtureHost('bare', env), { requirements: req }));
  return { facts, ...gpu.check(facts, req) };
}

describe('gpu', () => {
  it('reads count, model, memory, compute capability, driver and CUDA version from nvidia-smi', async () => {
    const { facts, result, attributes } = await run({ PATH: PATH_GPU });
    expect(facts).toMatchObject({ driverVersion: '550.54.15', cudaVersion: '12.4' });
    expect(result).toMatchObject({ name: 'gpu', status: 'pass', value: 2, failure: null });
    expect(result.detail).toBe('2 usable of 2, NVIDIA A100-SXM4-40GB 40960 MiB cc 8.0, driver 550.54.15, CUDA 12.4');
    expect(attributes).toEqual({
      DetectedGPUs: 'GPU-6d4f0c6a, GPU-b2e8a0f1',
      GLIDEIN_GPU_UUIDS: 'GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f,GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a',
      GPUs_DeviceName: 'NVIDIA A100-SXM4-40GB',
      GPUs_GlobalMemoryMb: 40960,
      GPUs_Capability: 8,
      GPUs_DriverVersion: 12.4,
      GPUs_NvidiaDriverVersion: '550.54.15',
      AvailableGPUs: { classad: '{ GPUs_GPU_6d4f0c6a, GPUs_GPU_b2e8a0f1 }' },
      GPUs_GPU_6d4f0c6a: { classad: '[ Id = "GPU-6d4f0c6a"; Capability = 8.0; DeviceName = "NVIDIA A100-SXM4-40GB"; DeviceUuid = "6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f"; DriverVersion = 12.40; GlobalMemoryMb = 40960; MaxSupportedVersion = 12040 ]' },
      GPUs_GPU_b2e8a0f1: { classad: '[ Id = "GPU-b2e8a0f1"; Capability = 8.0; DeviceName = "NVIDIA A100-SXM4-40GB"; DeviceUuid = "b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a"; DriverVersion = 12.40; GlobalMemoryMb = 40960; MaxSupportedVersion = 12040 ]' },
    });
  });

  it.each([
    ['an index', '1', ['GPU-b2e8a0f1']],
    ['a UUID prefix', 'GPU-6d4f', ['GPU-6d4f0c6a']],
    ['both, in the given order', '1,0', ['GPU-b2e8a0f1', 'GPU-6d4f0c6a']],
    ['an unknown entry, which ends the list as in CUDA', '0,7,1', ['GPU-6d4f0c6a']],
  ])('honours CUDA_VISIBLE_DEVICES naming %s', async (_what, cvd, ids) => {
    const { result, attributes } = await run({ PATH: PATH_GPU, CUDA_VISIBLE_DEVICES: cvd });
    expect(result.value).toBe(ids.length);
    expect(result.detail).toMatch(/of 2 \(CUDA_VISIBLE_DEVICES\)/);
    expect(attributes?.DetectedGPUs).toBe(ids.join(', '));
  });

  it('an empty CUDA_VISIBLE_DEVICES hides every GPU, which fails a GPU requirement', async () => {
    const { result, attributes } = await run({ PATH: PATH_GPU, CUDA_VISIBLE_DEVICES: '' }, 1);
    expect(result).toMatchObject({ status: 'fail', value: 0, required: 1, failure: 'WN_Resource' });
    expect(attributes?.DetectedGPUs).toBe(0);
  });

  it('narrows to the batch allocation (HTCondor machine ad GPUs = 1)', async () => {
    const { result } = await run({ PATH: PATH_GPU, _CONDOR_MACHINE_AD: join(FIXTURES, 'batch', 'machine.ad') });
    expect(result.value).toBe(1);
    expect(result.detail).toMatch(/batch allocation/);
  });

  it('fails a requirement for more GPUs than usable', async () => {
    expect((await run({ PATH: PATH_GPU }, 4)).result).toMatchObject({ status: 'fail', value: 2, required: 4, failure: 'WN_Resource' });
  });

  it('with no nvidia-smi and no GPU required is a skip, never a failure', async () => {
    const { result, attributes } = await run({ PATH: '/nonexistent' });
    expect(result).toMatchObject({ status: 'skip', value: 0, failure: null });
    expect(attributes).toEqual({ DetectedGPUs: 0 });
  });

  it('with gpus=0 required and no GPU passes or skips', async () => {
    expect(['pass', 'skip']).toContain((await run({ PATH: '/nonexistent' }, 0)).result.status);
  });

  it('with no nvidia-smi and a GPU required fails with WN_Resource', async () => {
    expect((await run({ PATH: '/nonexistent' }, 1)).result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });

  it('a broken driver is a warning without a requirement and a failure with one, quoting nvidia-smi', async () => {
    const plain = await run({ PATH: PATH_BROKEN });
    expect(plain.result.status).toBe('warn');
    expect(plain.result.detail).toMatch(/exited with 9: NVIDIA-SMI has failed/);
    expect((await run({ PATH: PATH_BROKEN }, 1)).result.status).toBe('fail');
  });

  it('short ids and parsers follow HTCondor and nvidia-smi formats', () => {
    expect(shortGpuId('GPU-6D4F0C6A-3b1e-4a6c')).toBe('GPU-6d4f0c6a');
    expect(parseCudaVersion('| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |')).toBe('12.2');
    const devs: GpuDevice[] = [{ index: 0, uuid: 'GPU-aa', name: 'x', memoryMiB: 1, computeCapability: '9.0', migEnabled: false, parent: null }];
    expect(visibleDevices(devs, undefined)).toBeNull();
    expect(visibleDevices(devs, '-1')).toEqual([]);
    expect(checkGpu({ tool: '/x', error: null, devices: devs, usable: [], driverVersion: null, cudaVersion: null, narrowedBy: [] }, {}).result.status).toBe('skip');
  });
});

describe('gpu tool lookup', () => {
  it('ignores a directory named nvidia-smi on PATH (root passes access(X_OK) on directories)', async () => {
    const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'glidein-gpu-test-'));
    try {
      mkdirSync(join(dir, 'nvidia-smi'));
      const { result } = await run({ PATH: `${dir}:/usr/bin:/bin` });
      expect(result).toMatchObject({ status: 'skip', detail: 'no nvidia-smi, amd-smi or rocm-smi on PATH: no GPU; none required' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PATH_MIG = `${join(FIXTURES, 'bin-gpu-mig')}:/usr/bin:/bin`;
const MIG0 = 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f';
const MIG1 = 'MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb';

describe('gpu with MIG (issue 23)', () => {
  it('offers the MIG instances of a GPU in MIG mode, never the GPU whole, named as NVML names them', async () => {
    const { facts, result, attributes } = await run({ PATH: PATH_MIG });
    expect(facts.usable.map((d) => d.uuid)).toEqual([MIG0, MIG1, 'GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a']);
    expect(facts.usable.map((d) => d.uuid)).not.toContain('GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77');
    expect(result).toMatchObject({ status: 'pass', value: 3 });
    expect(result.detail).toContain('NVIDIA A100-SXM4-40GB MIG 3g.20gb 20480 MiB cc 8.0');
    // A MIG id is never shortened (HTCondor: a short MIG id does not work).
    expect(attributes?.DetectedGPUs).toBe(`${MIG0}, ${MIG1}, GPU-b2e8a0f1`);
    expect(attributes?.GLIDEIN_GPU_UUIDS).toBe(`${MIG0},${MIG1},GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a`);
    expect(attributes?.AvailableGPUs).toEqual({ classad: '{ GPUs_MIG_c6d4f1ef_42e4_5de3_91c7_45d71c87eb3f, GPUs_MIG_cba663e8_9bed_5b25_b243_5985ef7c9beb, GPUs_GPU_b2e8a0f1 }' });
    expect(attributes?.['GPUs_MIG_c6d4f1ef_42e4_5de3_91c7_45d71c87eb3f']).toEqual({
      classad: `[ Id = "${MIG0}"; Capability = 8.0; DeviceName = "NVIDIA A100-SXM4-40GB MIG 3g.20gb"; DeviceUuid = "${MIG0}"; DriverVersion = 12.40; GlobalMemoryMb = 20480; MaxSupportedVersion = 12040; ParentUuid = "GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77" ]`,
    });
  });

  it.each([
    ['a MIG UUID', MIG1, [MIG1]],
    ['a MIG UUID prefix and a GPU ordinal', 'MIG-c6d4,1', [MIG0, 'GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a']],
    ["the MIG-mode GPU's ordinal, which names no schedulable device", '0', []],
  ])('honours CUDA_VISIBLE_DEVICES with %s', async (_what, cvd, uuids) => {
    const { facts } = await run({ PATH: PATH_MIG, CUDA_VISIBLE_DEVICES: cvd });
    expect(facts.usable.map((d) => d.uuid)).toEqual(uuids);
  });
});

describe('gpu requirements and failures (issue 23)', () => {
  const check = async (env: NodeJS.ProcessEnv, req: Record<string, unknown>) => {
    const facts = await gpu.collect(collectContext(fixtureHost('bare', env), { requirements: req, probeTimeoutMs: 500 }));
    return gpu.check(facts, req).result;
  };
  it.each([
    ['gpu_memory met by every device', { gpuMemory: 40 * 1024 ** 3 }, PATH_GPU, 'pass', null],
    ['gpu_memory above one device (a 20 GiB MIG instance)', { gpuMemory: 21 * 1024 ** 3 }, PATH_MIG, 'fail', '2 devices below gpu_memory=21504 MiB'],
    ['cuda=12.4 met by CUDA 12.4', { cuda: '12.4' }, PATH_GPU, 'pass', null],
    ['cuda=12.10 above CUDA 12.4 (compared as numbers)', { cuda: '12.10' }, PATH_GPU, 'fail', 'CUDA 12.4 below cuda=12.10'],
    ['cuda=11.8 below CUDA 12.4', { cuda: '11.8' }, PATH_GPU, 'pass', null],
    ['cuda on a node without nvidia-smi', { cuda: '11.0' }, '/nonexistent', 'fail', 'no nvidia-smi, amd-smi or rocm-smi on PATH'],
    ['cuda on an AMD node', { cuda: '11.0' }, `${join(FIXTURES, 'bin-amd')}:/usr/bin:/bin`, 'fail', 'CUDA unknown below cuda=11.0'],
  ])('%s', async (_what, req, path, status, detail) => {
    const r = await check({ PATH: path }, req);
    expect(r.status, r.detail).toBe(status);
    expect(r.failure).toBe(status === 'fail' ? 'WN_Resource' : null);
    if (detail) expect(r.detail).toContain(detail);
  });

  it('a hung nvidia-smi is killed at its deadline and fails the node even with no GPU required, never "no GPU"', async () => {
    const r = await check({ PATH: `${join(FIXTURES, 'bin-gpu-hung')}:/usr/bin:/bin` }, {});
    expect(r).toMatchObject({ status: 'fail', failure: 'WN_Resource', value: 0 });
    expect(r.detail).toMatch(/did not answer within 500 ms \(killed\): a hung driver/);
  });

  it('CUDA versions compare as numbers', () => {
    expect(cudaAtLeast('12.10', '12.9')).toBe(true);
    expect(cudaAtLeast('12.4', '12.10')).toBe(false);
    expect(cudaAtLeast('13.0', '12.10')).toBe(true);
  });
});

describe('glidein validate with GPUs through the CLI (issue 23)', () => {
  it('--format classad prints the nested GPU ads as a startd advertises them; --format json carries them as expressions', async () => {
    const { runCli } = await import('../helpers/run-cli.ts');
    const env = { ...process.env, PATH: `${join(FIXTURES, 'bin-gpu-mig')}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
    const ad = await runCli(['validate', '--format', 'classad', '--require', 'gpus=3', '--require', 'cuda=12.0', '--require', 'gpu_memory=20GiB'], { source: true, env });
    const lines = ad.stdout.split('\n');
    expect(lines).toContain('AvailableGPUs = { GPUs_MIG_c6d4f1ef_42e4_5de3_91c7_45d71c87eb3f, GPUs_MIG_cba663e8_9bed_5b25_b243_5985ef7c9beb, GPUs_GPU_b2e8a0f1 }');
    expect(lines).toContain('GPUs_GPU_b2e8a0f1 = [ Id = "GPU-b2e8a0f1"; Capability = 8.0; DeviceName = "NVIDIA A100-SXM4-40GB"; DeviceUuid = "b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a"; DriverVersion = 12.40; GlobalMemoryMb = 40960; MaxSupportedVersion = 12040 ]');
    const json = await runCli(['validate', '--format', 'json', '--require', 'gpus=4'], { source: true, env });
    const report = JSON.parse(json.stdout) as { checks: { name: string; status: string }[]; attributes: Record<string, unknown> };
    expect(report.checks.find((c) => c.name === 'gpu')).toMatchObject({ status: 'fail', value: 3, required: 4 });
    expect(report.attributes['AvailableGPUs']).toEqual({ classad: expect.stringMatching(/^\{ GPUs_MIG_c6d4f1ef/) });
  }, 60_000);
});
