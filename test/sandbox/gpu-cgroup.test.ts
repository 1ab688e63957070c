// Other GPUs' device nodes closed to a job by a cgroup v1 devices cgroup (issue 23), checked by
// the kernel itself: real character nodes made with mknod at NVIDIA's major (195) and the GPUs'
// minors, a fixture of the driver's procfs mapping UUIDs to minors (no GPU here), a real job
// through startJob. Opening a node of its own GPU reaches the (absent) driver: ENXIO, "No such
// device or address"; another GPU's node is refused by the cgroup: EPERM. Needs root and the
// cgroup v1 devices controller (cgroup v2 has no devices files); skips elsewhere, saying why.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shared/log.ts';
import { CredStore } from '../../agent/store/index.ts';
import { parseJobSpec, parsePolicy, startJob } from '../../agent/sandbox/index.ts';
import { deniedMinors } from '../../agent/sandbox/gpu-cgroup.ts';
import { IS_ROOT } from '../helpers/accounts.ts';

const GPUS: [string, string, number][] = [
  ['0000:07:00.0', 'GPU-6d4f0c6a-3b1e-4a6c-9f7e-1a2b3c4d5e6f', 0],
  ['0000:0f:00.0', 'GPU-b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a', 1],
  ['0000:47:00.0', 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77', 2],
];
const dir = mkdtempSync(join(tmpdir(), 'glgpucg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixture(): { procRoot: string; devRoot: string } {
  const procRoot = join(dir, 'proc');
  const devRoot = join(dir, 'dev');
  mkdirSync(devRoot, { recursive: true });
  for (const [bus, uuid, minor] of GPUS) {
    mkdirSync(join(procRoot, 'driver', 'nvidia', 'gpus', bus), { recursive: true });
    writeFileSync(join(procRoot, 'driver', 'nvidia', 'gpus', bus, 'information'), `Model: \t\t NVIDIA A100-SXM4-40GB\nGPU UUID: \t ${uuid}\nBus Location: \t ${bus}\nDevice Minor: \t ${minor}\n`);
  }
  return { procRoot, devRoot };
}

const v1Devices = existsSync('/proc/self/cgroup') && readFileSync('/proc/self/cgroup', 'utf8').split('\n').some((l) => l.split(':')[1]?.split(',').includes('devices'));

describe('GPU device nodes and the devices cgroup', () => {
  it('denies every other GPU minor; none when the job has a MIG instance (they share their GPU node)', () => {
    const paths = fixture();
    expect(deniedMinors([GPUS[1]![1]], paths)).toEqual([0, 2]);
    expect(deniedMinors(['GPU-6d4f0c6a'], paths)).toEqual([1, 2]); // HTCondor's short id
    expect(deniedMinors([], paths)).toEqual([0, 1, 2]);
    expect(deniedMinors(['MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f'], paths)).toEqual([]);
  });

  it.runIf(IS_ROOT)('a job opens its own GPU node (the driver answers ENXIO) and is refused the others (EPERM)', async (ctx) => {
    if (!v1Devices) {
      console.warn('[skip] no cgroup v1 devices controller here (cgroup v2 device control is an eBPF program glidein does not load)');
      return ctx.skip();
    }
    const paths = fixture();
    for (const [, , m] of GPUS) execFileSync('mknod', [join(paths.devRoot, `nvidia${m}`), 'c', '195', String(m)]);
    const work = join(dir, 'job');
    mkdirSync(work, { mode: 0o700 });
    const store = join(dir, 'store');
    mkdirSync(store, { mode: 0o700 });
    const script = `for m in 0 1 2; do if cat ${paths.devRoot}/nvidia$m 2>/dev/null; then echo "$m open"; else cat ${paths.devRoot}/nvidia$m 2>&1 | sed "s|.*: |$m |"; fi; done; cat /proc/self/cgroup | grep devices`;
    const spec = parseJobSpec({ id: 'gpu-cg', executable: '/bin/sh', args: ['-c', script], cwd: work, stdout: join(work, 'out'), stderr: join(work, 'err'), gpus: 1 });
    const r = await startJob(spec, { policy: parsePolicy({}), store: await CredStore.open(store), log: silentLogger, gpus: [GPUS[1]![1]], gpuPaths: paths }).result;
    expect(r.state, readFileSync(join(work, 'err'), 'utf8')).toBe('completed');
    const out = readFileSync(join(work, 'out'), 'utf8').trim().split('\n');
    expect(out.slice(0, 3)).toEqual(['0 Operation not permitted', '1 No such device or address', '2 Operation not permitted']);
    const cg = out[3]!.split(':').slice(2).join(':');
    expect(cg).toMatch(/glidein-gpus-gpu-cg-/);
    // The job's devices cgroup is gone with the job.
    expect(existsSync(join('/sys/fs/cgroup/devices', cg))).toBe(false);
  }, 60_000);
});
