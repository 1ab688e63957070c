// Apptainer / Singularity backend (issue 22). Built from Apptainer's documented command line only
// (its user guide: `exec`, `--containall` = `--contain --ipc --pid --cleanenv`, `--home SRC:DST`,
// `--pwd`, `--bind SRC:DST[:ro]`, the APPTAINERENV_ prefix; Singularity: SINGULARITYENV_): Apptainer
// is not in Debian's archive and cannot be built here, so no test runs it unless one is on PATH.
// The home spec `WORKDIR:/srv` is what GlideinWMS's singularity_wrapper.sh passes: the job's work
// dir at /srv, its cwd and HOME. --no-mount tmp is not given: --contain already makes /tmp private.
import { INSIDE_CREDENTIALS, INSIDE_WORKDIR, type ContainerRun, type ContainerRuntime, type RuntimeCommand, type RuntimeName } from './container-runtime.ts';

/** The runtime's own variables that must not come from the job (set by the runtime itself). */
const RUNTIME_OWNED = new Set(['HOME', 'PWD']);

export function apptainerCommand(path: string, flavor: 'apptainer' | 'singularity', run: ContainerRun): RuntimeCommand {
  const argv = [path, 'exec', '--containall', '--cleanenv', '--pid', '--ipc', '--home', `${run.workdir}:${INSIDE_WORKDIR}`, '--pwd', INSIDE_WORKDIR];
  if (run.credentialDir) argv.push('--bind', `${run.credentialDir}:${INSIDE_CREDENTIALS}:ro`);
  // --nv: the host's NVIDIA driver libraries and device nodes (all of them: CUDA_VISIBLE_DEVICES keeps the job on its own).
  if (run.gpus) argv.push('--nv');
  for (const b of run.binds) argv.push('--bind', `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`);
  argv.push(run.image, ...run.argv);
  // --cleanenv drops the host's environment; the job's variables pass with the runtime's prefix.
  const prefix = flavor === 'apptainer' ? 'APPTAINERENV_' : 'SINGULARITYENV_';
  const env: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [k, v] of Object.entries(run.env)) if (!RUNTIME_OWNED.has(k)) env[prefix + k] = v;
  return { argv, env, statusFd: null };
}

export function apptainerRuntime(path: string, flavor: 'apptainer' | 'singularity'): ContainerRuntime {
  return { name: flavor satisfies RuntimeName, path, runsSif: true, command: (run) => apptainerCommand(path, flavor, run) };
}
