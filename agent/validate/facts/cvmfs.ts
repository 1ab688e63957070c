// CVMFS facts: each repository probed by a separate child process under a hard deadline
// (a hung autofs/FUSE mount blocks the prober in uninterruptible sleep, never this process).
// The agent itself never touches anything below the CVMFS root.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from '../host.ts';
import { runProbe } from '../probe.ts';

export type RepoState = 'ok' | 'missing' | 'empty' | 'not-a-directory' | 'timeout' | 'error';

export interface RepoProbe {
  repo: string;
  state: RepoState;
  detail: string;
  durationMs: number;
}

export interface CvmfsFacts {
  root: string;
  /** The CVMFS root directory exists (lstat only: that never triggers a mount). */
  rootPresent: boolean;
  repos: RepoProbe[];
}

// Stat, then list (a glob is a readdir inside the shell). Anything that is not a directory is
// opened for reading, so a target that blocks in open() is caught by the deadline as well.
const PROBE_SCRIPT = `p=$1
[ -e "$p" ] || exit 3
if [ -d "$p" ]; then
  set -- "$p"/*
  [ -e "$1" ] || exit 4
  exit 0
fi
exec 3<"$p"
exit 5`;

const EXIT_STATES: Record<number, [RepoState, string]> = {
  0: ['ok', 'mounted and readable'],
  3: ['missing', 'not mounted (no such directory)'],
  4: ['empty', 'mounted but empty or unreadable'],
  5: ['not-a-directory', 'not a directory'],
};

export async function probeRepo(host: Host, repo: string, options: { timeoutMs: number; signal: AbortSignal; reapBoundMs?: number; onSpawn?: (pid: number) => void }): Promise<RepoProbe> {
  const target = join(host.cvmfsRoot, repo);
  const r = await runProbe('/bin/sh', ['-c', PROBE_SCRIPT, 'glidein-cvmfs-probe', target], {
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    ...(options.reapBoundMs === undefined ? {} : { reapBoundMs: options.reapBoundMs }),
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
  if (r.timedOut) {
    return { repo, state: 'timeout', detail: `probe of ${target} killed after ${options.timeoutMs} ms${r.unreaped ? ' (still stuck in the kernel)' : ''}`, durationMs: r.durationMs };
  }
  const known = r.code === null ? undefined : EXIT_STATES[r.code];
  if (known) return { repo, state: known[0], detail: known[1], durationMs: r.durationMs };
  return { repo, state: 'error', detail: r.spawnError ?? `probe exited with ${r.code ?? r.signal}`, durationMs: r.durationMs };
}

export async function collectCvmfsFacts(host: Host, repos: readonly string[], options: { timeoutMs: number; signal: AbortSignal }): Promise<CvmfsFacts> {
  const rootPresent = await lstat(host.cvmfsRoot).then(() => true, () => false);
  const probes = rootPresent
    ? await Promise.all(repos.map((repo) => probeRepo(host, repo, options)))
    : repos.map((repo): RepoProbe => ({ repo, state: 'missing', detail: `${host.cvmfsRoot} does not exist`, durationMs: 0 }));
  return { root: host.cvmfsRoot, rootPresent, repos: probes };
}
