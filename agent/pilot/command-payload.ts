// `glidein run -- COMMAND [ARG...]`: one payload as the pilot's own identity (typically the
// HTCondor startd). It finds the C-CRED through _CONDOR_SEC_TOKEN_DIRECTORY (refreshed in
// place) and the S-CRED through BEARER_TOKEN_FILE: paths only, never a secret in its environment.
import { sendRuntimeArgs, withRuntimePipes } from '../sandbox/container-runtime.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../shared/log.ts';
import type { Clock } from './clock.ts';
import { inOtherPidNamespace, processIdentity, selfAndAncestors, signalJob } from '../sandbox/process-sweep.ts';

export interface CommandOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  launchError: string | null;
  killedFor: string | null;
}

export interface CommandPayload {
  pid: number | undefined;
  done: Promise<CommandOutcome>;
  /** SIGTERM to the whole process group, SIGKILL after the grace. */
  stop(reason: string, graceMs: number): Promise<CommandOutcome>;
}

/** Environment variables of the pilot that must not reach a payload. */
const DROP_ENV = /^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|NODE_OPTIONS|BEARER_TOKEN|GLIDEIN_.*)$/;

export interface CommandOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  extraEnv: Record<string, string>;
  log: Logger;
  clock: Clock;
  /** In a container (command-container.ts): the environment is extraEnv alone, nothing of the pilot's. */
  cleanEnv?: boolean;
  /** A descriptor the runtime reports on (bwrap's --json-status-fd): a pipe, drained. */
  statusFd?: number | null;
  /** The runtime's options on a pipe (bwrap's --args): written and closed at the start. */
  argsPipe?: { fd: number; data: string } | null;
  /** A bwrap container: the stop's SIGTERM goes to the processes inside it only (bwrap itself
   * would end the whole sandbox at once and take the command's grace); the SIGKILL to all. */
  insideOnly?: boolean;
}

/** `sig` to the processes of the group led by `leader` that live in another pid namespace (a container's). */
function signalInside(leader: number, sig: NodeJS.Signals): void {
  signalJob({ sessions: new Set([leader]), leaderStart: processIdentity(leader)?.start ?? null, mark: null, uid: null, exclude: selfAndAncestors() }, sig, undefined, (pid) => inOtherPidNamespace(pid));
}

export function startCommand(o: CommandOptions): CommandPayload {
  const env: NodeJS.ProcessEnv = {};
  if (!o.cleanEnv) for (const [k, v] of Object.entries(o.env)) if (v !== undefined && !DROP_ENV.test(k)) env[k] = v;
  const stdio = withRuntimePipes<'ignore' | 'inherit'>(['ignore', 'inherit', 'inherit'], [o.statusFd, o.argsPipe?.fd], 'ignore');
  Object.assign(env, o.extraEnv);
  let child: ChildProcess;
  let killedFor: string | null = null;
  let exited = false;
  const done = new Promise<CommandOutcome>((resolve) => {
    child = spawn(o.argv[0]!, o.argv.slice(1), { cwd: o.cwd, env, stdio, detached: true });
    if (o.statusFd) (child.stdio[o.statusFd] as NodeJS.ReadableStream | null)?.resume();
    sendRuntimeArgs(child, o.argsPipe);
    child.once('error', (e) => {
      exited = true;
      resolve({ exitCode: null, signal: null, launchError: `${o.argv[0]}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, killedFor });
    });
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ exitCode: code, signal, launchError: null, killedFor });
    });
  });
  const killGroup = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  return {
    get pid() {
      return child.pid;
    },
    done,
    async stop(reason, graceMs) {
      if (exited) return done;
      killedFor ??= reason;
      o.log.info('stopping the payload', { pid: child.pid, reason, graceMs });
      if (o.insideOnly && child.pid !== undefined) signalInside(child.pid, 'SIGTERM');
      else killGroup('SIGTERM');
      let cancel = () => {};
      const timedOut = new Promise<void>((r) => (cancel = o.clock.setTimer(r, graceMs)));
      await Promise.race([done, timedOut]);
      cancel();
      // Whatever the leader did, no process of the payload's group survives it.
      killGroup('SIGKILL');
      return done;
    },
  };
}
