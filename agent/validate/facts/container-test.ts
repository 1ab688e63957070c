// The test container validation runs before it claims HAS_SINGULARITY (issue 22): /bin/true in
// the test image (policy containers.testImage, or the bundle's default image in `run`) through
// the same backend the sandbox uses, out of process under a hard deadline (runProbe: a hung
// runtime or image mount cannot hang validation).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runProbe } from '../probe.ts';
import { runtimeFor } from '../../sandbox/container-find.ts';
import type { RuntimeName } from '../../sandbox/container-runtime.ts';

export interface ContainerTestOutcome {
  image: string;
  ok: boolean;
  detail: string;
}

export async function runTestContainer(runtime: { name: RuntimeName; path: string }, image: string, o: { tmpDir: string; timeoutMs: number; signal: AbortSignal }): Promise<ContainerTestOutcome> {
  const workdir = await mkdtemp(join(o.tmpDir, 'glidein-ctest-'));
  try {
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/srv' };
    const cmd = runtimeFor(runtime.name, runtime.path).command({ image, workdir, credentialDir: null, binds: [], env, argv: ['/bin/true'], uid: process.getuid!(), gid: process.getgid!() });
    // The probe has no status descriptor: bwrap would fail writing to it.
    const argv = cmd.argv.filter((a, i, all) => a !== '--json-status-fd' && all[i - 1] !== '--json-status-fd');
    const r = await runProbe(argv[0]!, argv.slice(1), { timeoutMs: o.timeoutMs, env: cmd.env, signal: o.signal });
    if (r.code === 0) return { image, ok: true, detail: `/bin/true ran in ${image}` };
    const why = r.timedOut ? `did not finish within ${o.timeoutMs} ms` : r.spawnError ?? `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n')[0] ?? ''}`;
    return { image, ok: false, detail: `/bin/true in ${image} failed (${why})` };
  } catch (e) {
    return { image, ok: false, detail: `/bin/true in ${image} failed (${(e as Error).message})` };
  } finally {
    await rm(workdir, { recursive: true, force: true }).catch(() => undefined);
  }
}
