// AMD GPUs in the gpu check (issue 23), through the real validator against stand-ins of amd-smi
// (ROCm 6.4+ {"gpu_data": […]} and the earlier bare list) and rocm-smi: this machine has no GPU.
// The ids are the ROCm runtime's (GPU-<16 hex>), mapped from amd-smi's UUIDs as HTCondor's
// -fix-hip-guid describes; ROCR_VISIBLE_DEVICES then HIP_VISIBLE_DEVICES narrow them.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { gpu } from '../../agent/validators/gpu.ts';
import { rocrIdFromAmdSmiUuid } from '../../agent/validate/facts/amd-gpu.ts';
import { gpuEnv } from '../../agent/sandbox/gpu-env.ts';
import { collectContext, fixtureHost, FIXTURES } from '../validate/fixture.ts';

const path = (dir: string) => `${join(FIXTURES, dir)}:/usr/bin:/bin`;
const IDS = ['GPU-b0c0cb9338716a18', 'GPU-4c210e5d1b7a9f03'];

async function run(env: NodeJS.ProcessEnv, req: Record<string, unknown> = {}) {
  const facts = await gpu.collect(collectContext(fixtureHost('bare', env), { requirements: req }));
  return { facts, ...gpu.check(facts, req) };
}

describe('gpu on AMD nodes', () => {
  it.each([['amd-smi of ROCm 6.4+ ({"gpu_data": [...]})', 'bin-amd'], ['amd-smi before ROCm 6.4 (a bare list)', 'bin-amd-old']])('reads %s: count, model, memory, driver, the runtime ids', async (_what, dir) => {
    const { facts, result, attributes } = await run({ PATH: path(dir) });
    expect(facts.usable.map((d) => d.uuid)).toEqual(IDS);
    expect(result).toMatchObject({ status: 'pass', value: 2 });
    expect(result.detail).toBe('2 usable of 2, AMD Instinct MI250X 65536 MiB, driver 6.8.5');
    expect(attributes).toMatchObject({ DetectedGPUs: 'GPU-b0c0cb93, GPU-4c210e5d', GLIDEIN_GPU_UUIDS: IDS.join(','), GPUs_DeviceName: 'AMD Instinct MI250X', GPUs_GlobalMemoryMb: 65536 });
  });

  it('falls back to rocm-smi --json', async () => {
    const { result, facts } = await run({ PATH: path('bin-rocm') }, { gpus: 1 });
    expect(facts.usable.map((d) => d.uuid)).toEqual(['GPU-18f68e602b8a790f']);
    expect(result).toMatchObject({ status: 'pass', value: 1 });
    expect(result.detail).toContain('AMD Instinct MI100 32752 MiB');
  });

  it.each([
    ['ROCR_VISIBLE_DEVICES by index', { ROCR_VISIBLE_DEVICES: '1' }, [IDS[1]]],
    ['ROCR_VISIBLE_DEVICES by runtime id', { ROCR_VISIBLE_DEVICES: IDS[0] }, [IDS[0]]],
    ['HIP_VISIBLE_DEVICES counting within ROCR_VISIBLE_DEVICES', { ROCR_VISIBLE_DEVICES: '1,0', HIP_VISIBLE_DEVICES: '1' }, [IDS[0]]],
  ])('honours %s', async (_what, env, ids) => {
    const { facts, result } = await run({ PATH: path('bin-amd'), ...env });
    expect(facts.usable.map((d) => d.uuid)).toEqual(ids);
    expect(result.detail).toMatch(/_VISIBLE_DEVICES\)/);
  });

  it("maps amd-smi's UUID to the runtime's id as HTCondor's -fix-hip-guid describes", () => {
    expect(rocrIdFromAmdSmiUuid('b0ff74a0-0000-1000-80c0-cb9338716a18')).toBe('GPU-b0c0cb9338716a18');
    expect(rocrIdFromAmdSmiUuid('not-a-uuid')).toBeNull();
  });

  it('a job given AMD devices gets them in ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES counting within them', () => {
    expect(gpuEnv([IDS[1]!])).toEqual({ ROCR_VISIBLE_DEVICES: IDS[1], HIP_VISIBLE_DEVICES: '0' });
    expect(gpuEnv(IDS)).toEqual({ ROCR_VISIBLE_DEVICES: IDS.join(','), HIP_VISIBLE_DEVICES: '0,1' });
    expect(gpuEnv(['GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f'])).toEqual({ CUDA_VISIBLE_DEVICES: 'GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f', NVIDIA_VISIBLE_DEVICES: 'GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f' });
  });
});
