// `glidein run -- COMMAND` in a container (issue 22): the bundle's entry mode and default image,
// the site policy's `containers` rules, the same plan a spool job gets (container-plan.ts). The
// command runs as the pilot's own identity, so no wrapper: the runtime's argv replaces the
// command's. Inside: a fresh `<workdir>/srv` (not the pilot's work dir, which holds cred.d) as
// /srv; the C-CRED directory read-only at /glidein/idtokens (refreshed in place: the directory is
// bound), the S-CRED file read-only at /glidein/bearer-token; the environment only glidein's.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONTAINER_ENTRY, type BindSpec, type ContainerEntry } from '../../shared/container-entry.ts';
import { DEFAULT_CONTAINER_POLICY, type ContainerPolicy } from '../sandbox/container-policy.ts';
import { planContainer } from '../sandbox/container-plan.ts';
import { findContainerRuntime, runtimeFor } from '../sandbox/container-find.ts';
import { INSIDE_WORKDIR } from '../sandbox/container-runtime.ts';
import { DEFAULT_PATH } from '../sandbox/environment.ts';
import type { CredStore } from '../store/index.ts';
import { gpuEnv } from '../sandbox/gpu-env.ts';
import { gpuDeviceBinds } from '../sandbox/gpu-devices.ts';

export const INSIDE_IDTOKENS = '/glidein/idtokens';
export const INSIDE_BEARER = '/glidein/bearer-token';

export interface CommandContainerInput {
  argv: readonly string[];
  entry: ContainerEntry | undefined;
  policy: ContainerPolicy | undefined;
  workdir: string;
  store: CredStore;
  /** The S-CRED file the command is told about (BEARER_TOKEN_FILE outside), if any. */
  bearerFile: string | null;
  env: NodeJS.ProcessEnv;
  /** The pilot's validated GPUs (issue 23): the command gets them all, variables and device nodes. */
  gpus?: readonly string[];
}

export type CommandContainer =
  | { kind: 'bare' }
  | { kind: 'held'; error: string }
  | { kind: 'container'; argv: string[]; env: Record<string, string>; cwd: string; statusFd: number | null; argsPipe: { fd: number; data: string } | null; runtime: string; image: string };

const PASS = ['LANG', 'LC_ALL', 'TZ', 'TERM'];

export function commandContainer(i: CommandContainerInput): CommandContainer {
  const policy = i.policy ?? DEFAULT_CONTAINER_POLICY;
  const srv = join(i.workdir, 'srv');
  const plan = planContainer({ job: null, entry: i.entry ?? DEFAULT_CONTAINER_ENTRY, policy, workdir: srv, alwaysForbidden: [i.store.root], findRuntime: () => findContainerRuntime(policy.runtime, i.env) });
  if (plan.kind === 'bare') return plan;
  if (plan.kind === 'held') return { kind: 'held', error: `${plan.error.code}: ${plan.error.message}` };
  mkdirSync(srv, { recursive: true, mode: 0o700 });
  const { container: c } = plan;
  const binds: BindSpec[] = [...c.binds, { source: i.store.idtokenDir, target: INSIDE_IDTOKENS, readOnly: true }];
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: INSIDE_WORKDIR, PWD: INSIDE_WORKDIR, GLIDEIN_WORKDIR: INSIDE_WORKDIR, _CONDOR_SCRATCH_DIR: INSIDE_WORKDIR, _CONDOR_SEC_TOKEN_DIRECTORY: INSIDE_IDTOKENS };
  for (const k of PASS) if (typeof i.env[k] === 'string') env[k] = i.env[k]!;
  if (i.bearerFile) {
    binds.push({ source: i.bearerFile, target: INSIDE_BEARER, readOnly: true });
    env['BEARER_TOKEN_FILE'] = INSIDE_BEARER;
  }
  const gpus = i.gpus ?? [];
  if (gpus.length) Object.assign(env, gpuEnv(gpus));
  const rt = runtimeFor(c.runtime.name, c.runtime.path);
  const cmd = rt.command({ image: c.image, workdir: srv, credentialDir: null, binds, env, argv: [...i.argv], uid: process.getuid!(), gid: process.getgid!(), devices: gpuDeviceBinds(gpus), gpus: gpus.length > 0 });
  const argsPipe = cmd.argsPipe ? { fd: cmd.argsPipe.fd, data: cmd.argsPipe.data } : null;
  return { kind: 'container', argv: cmd.argsPipe?.argv ?? cmd.argv, env: cmd.env, cwd: srv, statusFd: cmd.statusFd, argsPipe, runtime: rt.name, image: c.image };
}
