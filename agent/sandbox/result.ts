// The result of one job (DESIGN.md section 5, contract): one shape whatever happened.
import type { LaunchError } from './launch-error.ts';

export type JobState = 'completed' | 'failed' | 'held' | 'killed';
export type KillReason = 'timeout' | 'credential-expired' | 'pilot-shutdown' | 'cancelled';

export interface JobResult {
  id: string;
  state: JobState;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  launchError: LaunchError | null;
  uid: number | null;
  durationMs: number;
}

/** The exit code of `glidein exec` for a result: the job's code, 1 if killed, 3 if held or not launched. */
export function exitCodeForResult(r: JobResult): number {
  switch (r.state) {
    case 'completed':
      return r.exitCode ?? 0;
    case 'killed':
      return 1;
    case 'held':
      return 3;
    case 'failed':
      if (r.launchError) return 3;
      return r.exitCode !== null && r.exitCode !== 0 ? r.exitCode : 1;
  }
}
