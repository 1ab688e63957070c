// Which container runtime this node has (issue 22), as validation finds Apptainer today
// (APPTAINER_BIN, SINGULARITY_BIN, PATH, the OSG copy on CVMFS) plus bubblewrap on PATH.
// `auto` prefers Apptainer, then Singularity, then bwrap. Synchronous and cheap: stat calls only.
import { accessSync, constants } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import type { RuntimeChoice } from './container-policy.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { apptainerRuntime } from './container-apptainer.ts';
import { bwrapRuntime } from './container-bwrap.ts';

const SEARCH_PATH = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
const OSG_APPTAINER = '/cvmfs/oasis.opensciencegrid.org/mis/apptainer/bin/apptainer';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  const dirs = [...(env['PATH'] ?? '').split(':').filter((d) => isAbsolute(d)), ...SEARCH_PATH];
  for (const d of dirs) if (executable(join(d, name))) return join(d, name);
  return null;
}

function findApptainer(env: NodeJS.ProcessEnv): ContainerRuntime | null {
  const bin = env['APPTAINER_BIN'];
  if (bin && isAbsolute(bin) && executable(bin)) return apptainerRuntime(bin, 'apptainer');
  const p = onPath('apptainer', env);
  if (p) return apptainerRuntime(p, 'apptainer');
  return executable(OSG_APPTAINER) ? apptainerRuntime(OSG_APPTAINER, 'apptainer') : null;
}

function findSingularity(env: NodeJS.ProcessEnv): ContainerRuntime | null {
  const bin = env['SINGULARITY_BIN'];
  if (bin && isAbsolute(bin) && executable(bin)) return apptainerRuntime(bin, basename(bin).startsWith('apptainer') ? 'apptainer' : 'singularity');
  const p = onPath('singularity', env);
  return p ? apptainerRuntime(p, 'singularity') : null;
}

function findBwrap(env: NodeJS.ProcessEnv): ContainerRuntime | null {
  const p = onPath('bwrap', env);
  return p ? bwrapRuntime(p) : null;
}

/** The runtime the policy asks for, if present; null: none found. */
export function findContainerRuntime(choice: RuntimeChoice, env: NodeJS.ProcessEnv = process.env): ContainerRuntime | null {
  if (choice === 'apptainer') return findApptainer(env);
  if (choice === 'singularity') return findSingularity(env) ?? findApptainer(env);
  if (choice === 'bwrap') return findBwrap(env);
  return findApptainer(env) ?? findSingularity(env) ?? findBwrap(env);
}

/** The backend for a runtime the agent chose (the wrapper gets its name and path over the channel). */
export function runtimeFor(name: ContainerRuntime['name'], path: string): ContainerRuntime {
  return name === 'bwrap' ? bwrapRuntime(path) : apptainerRuntime(path, name);
}
