import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { gpu, shortGpuId, checkGpu } from '../../agent/validators/gpu.ts';
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
    const devs: GpuDevice[] = [{ index: 0, uuid: 'GPU-aa', name: 'x', memoryMiB: 1, computeCapability: '9.0' }];
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
      expect(result).toMatchObject({ status: 'skip', detail: 'no nvidia-smi on PATH: no NVIDIA GPU; none required' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
