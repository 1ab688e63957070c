// bubblewrap backend (issue 22): a real unprivileged runtime for directory images, and the one
// the tests run for real. The root is bwrap's own tmpfs; each top-level entry of the image is
// bound read-only onto it (a symlink such as /bin -> usr/bin is recreated), so /srv, /tmp and
// /glidein can be made even where the image lacks them. New user, pid, ipc and uts namespaces
// (--unshare-cgroup-try where the kernel has them); the same uid and gid inside; /proc of the
// new pid namespace only; a private /tmp; --die-with-parent so the sandbox ends with its parent.
// The environment is not put on bwrap's argv (visible in /proc to every local user): bwrap is
// started with exactly the payload's environment and passes it on unchanged.
// Its options (image, work dir and credential paths) come on descriptor 4 (--args), not its argv.
// --json-status-fd 3 reports {"child-pid"} once the namespaces exist and {"exit-code"} at the end:
// the wrapper (wrapper-container.ts) tells "runtime failed" from "payload ran" by it.
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { INSIDE_CREDENTIALS, INSIDE_WORKDIR, type ContainerRun, type ContainerRuntime, type RuntimeCommand } from './container-runtime.ts';

/** Top-level names glidein mounts itself: the image's own are not bound there. */
const OWN_MOUNTS = new Set(['proc', 'dev', 'tmp', INSIDE_WORKDIR.slice(1), INSIDE_CREDENTIALS.split('/')[1]!]);
export const BWRAP_STATUS_FD = 3;
/** The descriptor bwrap reads its options from (`--args`), so they are not on its command line. */
export const BWRAP_ARGS_FD = 4;

/** The image's top level onto bwrap's root (reads the image as the calling process: the job's account). */
function imageArgs(image: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(image, { withFileTypes: true })) {
    if (OWN_MOUNTS.has(e.name)) continue;
    const inside = `/${e.name}`;
    if (e.isSymbolicLink()) out.push('--symlink', readlinkSync(join(image, e.name)), inside);
    else out.push('--ro-bind', join(image, e.name), inside);
  }
  return out;
}

export function bwrapCommand(path: string, run: ContainerRun): RuntimeCommand {
  const argv = [
    path, '--die-with-parent', '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--uid', String(run.uid), '--gid', String(run.gid),
    ...imageArgs(run.image),
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--bind', run.workdir, INSIDE_WORKDIR,
  ];
  if (run.credentialDir) argv.push('--ro-bind', run.credentialDir, INSIDE_CREDENTIALS);
  // The job's own GPU nodes into bwrap's minimal /dev, no others (issue 23).
  for (const d of run.devices ?? []) argv.push('--dev-bind', d.source, d.target);
  for (const b of run.binds) argv.push(b.readOnly ? '--ro-bind' : '--bind', b.source, b.target);
  argv.push('--chdir', INSIDE_WORKDIR, '--json-status-fd', String(BWRAP_STATUS_FD));
  const argsPipe = { argv: [path, '--args', String(BWRAP_ARGS_FD), '--', ...run.argv], fd: BWRAP_ARGS_FD, data: argv.slice(1).map((a) => `${a}\0`).join('') };
  return { argv: [...argv, '--', ...run.argv], env: { ...run.env }, statusFd: BWRAP_STATUS_FD, argsPipe };
}

export function bwrapRuntime(path: string): ContainerRuntime {
  return { name: 'bwrap', path, runsSif: false, command: (run) => bwrapCommand(path, run) };
}
