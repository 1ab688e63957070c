// `glidein wrapper` (internal): what the sandbox starts under the target identity.
//   glidein wrapper SOCKET                         receive the job over SOCKET and exec it
//   glidein wrapper kill --signal SIG --session N [--start TICKS] [--mark MARK] [--inside-container]
//                                                  (through the helper) signal the job's processes
//                                                  (those inside its container's pid namespace only)
//   glidein wrapper cleanup --job ID               (through the helper) remove the job's own credential dirs
//   glidein wrapper tty-output PATH                (as the job account) copy stdin into a tty job's stdout file
import { isJobId } from './job-spec.ts';
import { readdirSync, lstatSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { UsageError } from '../../shared/errors.ts';
import { parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import type { CommandContext } from '../command.ts';
import { runWrapper } from './wrapper.ts';
import { runTtyOutputCopier } from './tty-output.ts';
import { inOtherPidNamespace, selfAndAncestors, signalJob } from './process-sweep.ts';

function killCommand(argv: string[]): number {
  const args = parseCommandArgs('wrapper kill', argv, { signal: { type: 'string' }, session: { type: 'string' }, start: { type: 'string' }, mark: { type: 'string' }, 'inside-container': { type: 'boolean' } });
  const sig = requiredStringFlag('wrapper kill', args, 'signal', 'SIGTERM or SIGKILL');
  if (!(sig in osConstants.signals)) throw new UsageError(`wrapper kill: --signal '${sig}' is not a signal name`);
  const session = Number(stringFlag(args, 'session'));
  if (!Number.isInteger(session) || session <= 1) throw new UsageError('wrapper kill: --session must be a process id');
  const uid = process.getuid!();
  if (uid === 0) throw new UsageError('wrapper kill: refusing to sweep as root (the helper must switch to the job account)');
  const mark = stringFlag(args, 'mark') ?? null;
  if (mark !== null && !/^[0-9a-f]{32}$/.test(mark)) throw new UsageError('wrapper kill: --mark must be 32 hex digits');
  const start = stringFlag(args, 'start');
  if (start !== undefined && !/^\d{1,20}$/.test(start)) throw new UsageError("wrapper kill: --start must be the session leader's start time (clock ticks since boot)");
  const only = args.values['inside-container'] === true ? (pid: number) => inOtherPidNamespace(pid) : undefined;
  signalJob({ sessions: new Set([session]), leaderStart: start === undefined ? null : Number(start), mark, uid, exclude: selfAndAncestors() }, sig as NodeJS.Signals, undefined, only);
  return 0;
}

function cleanupCommand(argv: string[]): number {
  const args = parseCommandArgs('wrapper cleanup', argv, { job: { type: 'string' } });
  const job = requiredStringFlag('wrapper cleanup', args, 'job', 'the job id');
  if (!isJobId(job)) throw new UsageError('wrapper cleanup: --job is not a job id');
  const uid = process.getuid!();
  const prefix = `glidein-job-${job}-`;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const path = join(tmpdir(), name);
    const st = lstatSync(path);
    if (st.isDirectory() && st.uid === uid) rmSync(path, { recursive: true, force: true });
  }
  return 0;
}

function ttyOutputCommand(argv: string[]): Promise<number> {
  const [path, ...extra] = argv;
  if (path === undefined || !path.startsWith('/') || extra.length > 0) throw new UsageError('wrapper tty-output: expected one absolute path');
  // Opening a job's path as root is what the sandbox must never do (issue 11, item 1).
  if (process.getuid!() === 0) throw new UsageError('wrapper tty-output: refusing to open a job\'s file as root (start it as the job account)');
  return runTtyOutputCopier(path);
}

export async function run(argv: string[], _ctx: CommandContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'kill') return killCommand(rest);
  if (first === 'cleanup') return cleanupCommand(rest);
  if (first === 'tty-output') return ttyOutputCommand(rest);
  if (first === undefined || !first.startsWith('/') || rest.length > 0) {
    throw new UsageError('wrapper: internal command; expected the absolute path of the agent\'s socket');
  }
  return runWrapper(first);
}
