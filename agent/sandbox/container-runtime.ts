// The one question the sandbox asks a container runtime (issue 22): "wrap this argv in this image
// with these binds, this work dir and this environment". One file per backend implements it:
// container-bwrap.ts (bubblewrap, run for real in the tests), container-apptainer.ts (Apptainer
// and Singularity, built from their documented command line). Which one is present: container-find.ts.
import type { ChildProcess } from 'node:child_process';
import type { BindSpec } from '../../shared/container-entry.ts';

export type RuntimeName = 'bwrap' | 'apptainer' | 'singularity';

/** Where the job's work dir appears inside (GlideinWMS singularity_wrapper.sh: cwd and HOME). */
export const INSIDE_WORKDIR = '/srv';
/** Where the job's credential directory appears inside (read-only); BEARER_TOKEN_FILE points under it. */
export const INSIDE_CREDENTIALS = '/glidein/credentials';

export interface ContainerRun {
  /** The image's real path: a directory tree, or a .sif file where the runtime takes one. */
  image: string;
  /** Host dir seen as /srv (cwd and HOME inside). */
  workdir: string;
  /** Host dir of the job's credentials, seen read-only at INSIDE_CREDENTIALS; null: none. */
  credentialDir: string | null;
  /** Site-forced and job binds, their sources already checked against the policy. */
  binds: readonly BindSpec[];
  /** The payload's environment, exactly (paths already the inside ones). */
  env: Readonly<Record<string, string>>;
  /** The payload's argv; argv[0] is the executable's inside path. */
  argv: readonly string[];
  uid: number;
  gid: number;
  /** The job's GPU device nodes (issue 23, gpu-devices.ts): bound at their /dev paths where /dev is the runtime's own. */
  devices?: readonly { source: string; target: string }[];
  /** The job has GPUs: Apptainer's --nv (its driver libraries and nodes). */
  gpus?: boolean;
}

/** What to start on the host: the runtime's argv and environment. */
export interface RuntimeCommand {
  argv: string[];
  env: Record<string, string>;
  /** bwrap: the descriptor (3) its --json-status-fd writes {"child-pid"} to once the sandbox exists. */
  statusFd: number | null;
  /**
   * bwrap: the same command with its options on a pipe (`--args FD`, NUL-terminated), so its
   * command line (/proc/PID/cmdline: `ps` on the host, and pid 1 inside the container) names no
   * host path, only `bwrap --args 4 -- PAYLOAD…`. A launcher that can pass the descriptor uses it.
   */
  argsPipe?: { argv: string[]; fd: number; data: string };
}

export interface ContainerRuntime {
  readonly name: RuntimeName;
  readonly path: string;
  /** Whether it runs .sif files (bubblewrap: directory images only). */
  readonly runsSif: boolean;
  command(run: ContainerRun): RuntimeCommand;
}

/** STDIO with a pipe at each of FDS (a runtime's status and options descriptors), the gaps filled with FILL. */
export function withRuntimePipes<T extends string>(stdio: T[], fds: readonly (number | null | undefined)[], fill: T): (T | 'pipe')[] {
  const out: (T | 'pipe')[] = [...stdio];
  for (const fd of fds) {
    if (!fd) continue;
    while (out.length < fd) out.push(fill);
    out[fd] = 'pipe';
  }
  return out;
}

/** The runtime's options to its options pipe, then closed; a runtime that dies before reading them (EPIPE) fails by its exit. */
export function sendRuntimeArgs(child: ChildProcess, pipe: { fd: number; data: string } | null | undefined): void {
  if (pipe) (child.stdio[pipe.fd] as NodeJS.WritableStream | null)?.on('error', () => undefined).end(pipe.data);
}
