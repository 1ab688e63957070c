// The site's audit records of `glidein run -- COMMAND` (issue 25): one command, run as the
// pilot's own account (no identity switch: typically an HTCondor startd, whose jobs are recorded
// by glidein's job wrapper), recorded so that the site can tell which pilot (glidein id, entry,
// factory, batch job) ran which process tree, from when to when, and how it ended.
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Logger } from '../../shared/log.ts';
import type { AuditPolicy } from './audit-policy.ts';
import { AuditSink } from './audit-sink.ts';
import type { AuditPilot, AuditRecord, AuditWhy } from './audit-record.ts';
import { readLiveProcess } from './live-process.ts';

export interface CommandEnd {
  exitCode: number | null;
  signal: string | null;
  launchError: string | null;
  killedFor: string | null;
}

function accountName(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

export class CommandAudit {
  readonly #sink: AuditSink;
  readonly #base: Omit<AuditRecord, 'event' | 'time'>;
  readonly #t0 = Date.now();
  #startedAt: string | null = null;
  #started: Promise<unknown> = Promise.resolve();

  constructor(policy: AuditPolicy, log: Logger, pilot: AuditPilot | null, executable: string) {
    this.#sink = new AuditSink(policy, log);
    this.#base = {
      v: 1, run: randomBytes(8).toString('hex'), job: 'command', source: 'command', node: hostname(), pilot,
      iss: null, sub: null, verified: false, tokenSha256: null, jti: null, mode: 'none', account: accountName(), uid: process.getuid?.() ?? null,
      pid: null, pidStart: null, cgroup: null, markSha256: null, executable, image: null,
    };
  }

  /** The command runs as process group `pid`. */
  started(pid: number): void {
    this.#startedAt = new Date().toISOString();
    const startMs = readLiveProcess(pid)?.startMs ?? null;
    Object.assign(this.#base, { pid, pidStart: startMs === null ? null : new Date(startMs).toISOString() });
    this.#started = this.#sink.write({ ...this.#base, event: 'start', time: this.#startedAt });
  }

  /** The command has ended (or could not start): the end record, after the start's. */
  async ended(r: CommandEnd): Promise<void> {
    await this.#started;
    const why: AuditWhy = r.launchError ? 'launch-failed' : r.killedFor === 'credential-expired' ? 'credential-expired' : r.killedFor ? 'drain' : r.exitCode === 0 ? 'completed' : 'failed';
    const state = r.launchError ? 'held' : r.killedFor ? 'killed' : r.exitCode === 0 ? 'completed' : 'failed';
    await this.#sink.write({
      ...this.#base, event: 'end', time: new Date().toISOString(), startedAt: this.#startedAt, state, why,
      exitCode: r.exitCode, signal: r.signal, reason: r.launchError ?? r.killedFor, durationMs: Date.now() - this.#t0, cpuSeconds: null, peakMemoryBytes: null,
    });
  }
}
