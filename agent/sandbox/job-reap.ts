// Ending a job's processes (DESIGN.md section 7): a signal to all of the job (its cgroup, then the
// process sweep, or, for a non-root agent in helper mode, `glidein wrapper kill` through the
// helper); after the main process exited, SIGKILL to whatever is left until nothing is; at the
// end, the job cgroup removed and the credentials wiped.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { selfCommand } from '../../shared/self-command.ts';
import { expandHelper } from './policy.ts';
import { helperLimiter } from './limiter.ts';
import { hasEnded, inOtherPidNamespace, signalJob, readProcTable, selectJobProcesses, type JobSelector } from './process-sweep.ts';
import type { ChildProc, JobState } from './job-state.ts';

/** Signal every process of the job, directly or (agent not root, helper mode) through the helper. */
export async function signalJobProcesses(job: JobState, sig: NodeJS.Signals): Promise<void> {
  const sel = job.selector;
  if (!sel || !job.child) return;
  // A bwrap job's SIGTERM (the kill's first step) goes to the processes inside it only: the
  // wrapper and bwrap's monitor outside would end the whole sandbox at once, and the payload
  // would get no grace (bwrap's own init, pid 1 inside, passes nothing on: the payload gets the
  // SIGTERM once, test/sandbox/container.test.ts). SIGKILL goes to all. Apptainer's starter, which forwards signals to
  // its container (whose first process may be pid 1 there), gets it as before: not run here.
  const insideOnly = sig !== 'SIGKILL' && job.container?.runtime.name === 'bwrap';
  const only = insideOnly ? (pid: number) => inOtherPidNamespace(pid) : undefined;
  const viaCgroup = new Set(await job.cgroup?.signal(sig, only).catch((e: unknown) => {
    job.log.warn('cannot signal the job cgroup', { path: job.cgroup?.path, error: e });
    return [];
  }));
  if (!job.usesHelperForKills) {
    // What the cgroup already signalled does not get it twice (a shell's trap would run twice).
    signalJob(sel, sig, undefined, (pid) => !viaCgroup.has(pid) && (only?.(pid) ?? true));
    return;
  }
  const argv = [...expandHelper(job.opts.policy, job.account!), ...(job.opts.wrapperCommand ?? selfCommand()), 'wrapper', 'kill', '--signal', sig, '--session', String(job.child.pid), ...(sel.leaderStart != null ? ['--start', String(sel.leaderStart)] : []), ...(sel.mark !== null ? ['--mark', sel.mark] : []), ...(insideOnly ? ['--inside-container'] : [])];
  await runHelper(job, argv);
}

/** Run `argv` (a helper command) within the helper concurrency limit; failures are only logged. */
export async function runHelper(job: JobState, argv: string[]): Promise<void> {
  await helperLimiter(job.opts.policy).run(
    () =>
      new Promise<void>((resolve) => {
        const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NODE_NO_WARNINGS: '1' }, timeout: job.opts.policy.helperTimeoutSeconds * 1000 });
        p.on('error', (e) => {
          job.log.warn('helper call failed', { helper: argv[0], error: e.message });
          resolve();
        });
        p.on('exit', () => resolve());
      }),
  );
}

/** Move every process of the job so far into its cgroup (helper launches, before the spec is sent). */
export function adoptLaunchedProcesses(job: JobState): void {
  if (!job.cgroup || !job.selector) return;
  for (const p of selectJobProcesses(readProcTable(), job.selector)) job.cgroup.adopt(p.pid);
}

/** After the main process: SIGKILL whatever of the job is left, until nothing is. */
export async function reapJob(job: JobState, child: ChildProc): Promise<void> {
  const full: JobSelector = job.selector!;
  const exited = await Promise.race([child.exit.then(() => true), sleep(100).then(() => false)]);
  if (!exited) {
    await signalJobProcesses(job, 'SIGKILL');
    await child.exit;
  }
  for (let round = 0; round < 20; round++) {
    if (job.usesHelperForKills) {
      await signalJobProcesses(job, 'SIGKILL');
      break;
    }
    // A cgroup its processes cannot leave, now empty: nothing of the job is left anywhere, and
    // the process table (some milliseconds on a busy node) need not be read.
    if (job.cgroupConfines && job.cgroup?.isEmpty()) break;
    // A zombie has ended (no signal reaches it; only its parent's wait() removes it): a container
    // runtime's inner process reparented to an init that is slow to reap must not hold the job.
    const left = selectJobProcesses(readProcTable(), full).filter((p) => !hasEnded(p));
    const inCgroup = job.cgroup?.pids().length ?? 0;
    if (left.length === 0 && inCgroup === 0) break;
    if (round === 0) job.log.info('killing processes the job left behind', { count: left.length, inCgroup });
    await signalJobProcesses(job, 'SIGKILL');
    await sleep(25);
  }
  job.audit.noteUsage(job.cgroup);
  if (job.cgroup && !job.cgroup.remove()) job.log.warn('processes of the job are still in its cgroup', { path: job.cgroup.path });
  job.cgroup = null;
  job.cgroupConfines = false;
  job.child = null;
}

/** The job has ended: its cgroup removed, its credentials wiped (by the agent or the helper). */
export async function cleanupJob(job: JobState): Promise<void> {
  // A cgroup made for a launch whose spawn failed was never reaped: it is empty.
  job.cgroup?.remove();
  job.cgroup = null;
  job.gpuCgroup?.remove();
  job.gpuCgroup = null;
  if (job.credentialsWritten) {
    await job.opts.store.wipe(job.spec.id).catch((e: unknown) => job.log.error('cannot wipe the job credentials', { error: e }));
  }
  if (!job.agentWritesCredentials && job.account && job.credentials.length > 0) {
    await runHelper(job, [...expandHelper(job.opts.policy, job.account), ...(job.opts.wrapperCommand ?? selfCommand()), 'wrapper', 'cleanup', '--job', job.spec.id]);
  }
}
