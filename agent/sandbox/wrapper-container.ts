// The wrapper's container step (issue 22): after the identity switch, the credentials and the
// job's stdio, as the mapped account, it checks what the account can reach (the image, the
// executable inside it) and starts the runtime. A runtime with a status descriptor (bwrap) is
// started as the wrapper's child: its {"child-pid"} line means the sandbox exists, and only then
// is the channel closed with no record (what a successful execve says for a bare payload); a
// runtime that exits before that is CONTAINER_RUNTIME_FAILED (transient: a node problem, e.g.
// user namespaces off). The wrapper then waits and exits with the payload's status. A runtime
// without one (Apptainer) replaces the wrapper by execve, as a bare payload does.
import { spawn } from 'node:child_process';
import { accessSync, constants, lstatSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { errnoCode } from '../../shared/errors.ts';
import type { BindSpec } from '../../shared/container-entry.ts';
import { launchError, type LaunchError } from './launch-error.ts';
import { runtimeFor } from './container-find.ts';
import { INSIDE_WORKDIR, sendRuntimeArgs, withRuntimePipes, type RuntimeName } from './container-runtime.ts';
import type { DeviceBind } from './gpu-devices.ts';

/** The container part of the wrapper spec (decided by the agent, container-plan.ts). */
export interface WrapperContainer {
  runtime: { name: RuntimeName; path: string };
  image: string;
  binds: BindSpec[];
  /** The agent wrote the credentials here (its store); null: the wrapper's own dir, or none. */
  credentialDir: string | null;
  /** The job's GPUs (issue 23): their device nodes (bwrap binds exactly these) and whether it has any (Apptainer --nv). */
  gpuDevices?: DeviceBind[];
  gpus?: boolean;
}

export interface ContainerStart {
  c: WrapperContainer;
  workdir: string;
  credentialDir: string | null;
  env: Record<string, string>;
  argv: string[];
  /** Called once the sandbox exists: close the channel with no record. */
  started: () => void;
}

/** `path` inside a directory image, symlinks followed without leaving it; null: not there. */
export function resolveInImage(root: string, path: string): string | null {
  let rest = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  for (let hops = 0; rest.length > 0; ) {
    const part = rest.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      rest = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...rest];
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** What the account can reach: the image and the executable in it (or in the work dir, /srv). */
function preflight(s: ContainerStart): LaunchError | null {
  const { image } = s.c;
  let st;
  try {
    st = statSync(image);
    if (st.isDirectory()) accessSync(image, constants.R_OK | constants.X_OK);
    else accessSync(image, constants.R_OK);
  } catch (e) {
    const code = errnoCode(e) ?? 'EIO';
    return launchError('container', code === 'ENOENT' ? 'IMAGE_MISSING' : code, `image ${image} cannot be read as uid ${process.getuid?.()}: ${code}`, true);
  }
  // Every bind source must be reachable as the account: bwrap would fail inside, as exit code 1.
  for (const [src, what] of [...(s.credentialDir ? [[s.credentialDir, "the job's credential directory"]] : []), ...s.c.binds.map((b) => [b.source, `bind ${b.source}`])] as [string, string][]) {
    try {
      accessSync(src, constants.R_OK);
    } catch (e) {
      const code = errnoCode(e) ?? 'EIO';
      return launchError('container', code, `${what} (${src}) cannot be read as uid ${process.getuid?.()}: ${code}`, true);
    }
  }
  if (!st.isDirectory()) return null; // a .sif: the runtime looks inside
  const exe = s.argv[0]!;
  const host = exe === INSIDE_WORKDIR || exe.startsWith(`${INSIDE_WORKDIR}/`) ? join(s.workdir, exe.slice(INSIDE_WORKDIR.length)) : resolveInImage(image, exe);
  try {
    if (host === null) throw Object.assign(new Error('not in the image'), { code: 'ENOENT' });
    accessSync(host, constants.X_OK);
    if (statSync(host).isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' });
  } catch (e) {
    const code = errnoCode(e) ?? 'EIO';
    return launchError('exec', code, `cannot execute ${exe} in image ${image}: ${code}`);
  }
  return null;
}

/** Run the payload in its container. Returns a launch error (not started) or the wrapper's exit code. */
export async function startInContainer(s: ContainerStart): Promise<LaunchError | { exitCode: number }> {
  const pre = preflight(s);
  if (pre) return pre;
  const rt = runtimeFor(s.c.runtime.name, s.c.runtime.path);
  const cmd = rt.command({ image: s.c.image, workdir: s.workdir, credentialDir: s.credentialDir, binds: s.c.binds, env: s.env, argv: s.argv, uid: process.getuid!(), gid: process.getgid!(), devices: s.c.gpuDevices ?? [], gpus: s.c.gpus === true });
  if (cmd.statusFd === null) {
    try {
      process.execve!(cmd.argv[0]!, cmd.argv, cmd.env);
    } catch (e) {
      return launchError('container', errnoCode(e) ?? 'EIO', `cannot start ${rt.name} ${cmd.argv[0]}: ${(e as Error).message}`, false);
    }
  }
  const stdio = withRuntimePipes(['inherit', 'inherit', 'inherit'], [cmd.statusFd, cmd.argsPipe?.fd], 'inherit');
  const argv = cmd.argsPipe?.argv ?? cmd.argv;
  const child = spawn(argv[0]!, argv.slice(1), { stdio, env: cmd.env, cwd: s.workdir });
  sendRuntimeArgs(child, cmd.argsPipe);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((r) => {
    child.once('error', (error) => r({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => r({ code, signal }));
  });
  const status = child.stdio[cmd.statusFd!] as NodeJS.ReadableStream;
  const ready = new Promise<boolean>((r) => {
    let buf = '';
    status.setEncoding('utf8');
    status.on('data', (d: string) => {
      buf += d;
      if (/"child-pid"\s*:/.test(buf)) r(true);
    });
    status.on('end', () => r(false));
  });
  const first = await Promise.race([ready, exit.then(() => false)]);
  if (!first) {
    const e = await exit;
    const how = e.error ? `could not start: ${errnoCode(e.error) ?? e.error.message}` : `exited with ${e.signal ? `signal ${e.signal}` : `code ${e.code}`}`;
    return launchError('container', 'CONTAINER_RUNTIME_FAILED', `${rt.name} ${how} before the sandbox existed (user namespaces off? its message is in the job's stderr)`, false);
  }
  s.started();
  status.resume();
  const e = await exit;
  if (e.signal) {
    // The runtime itself was killed (not the payload: bwrap reports that as 128+n): die the same way.
    process.kill(process.pid, e.signal);
    return { exitCode: 128 + (osConstants.signals[e.signal] ?? 0) };
  }
  return { exitCode: e.code ?? 1 };
}
