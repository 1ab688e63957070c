// The startd's final state for the pilot's summary, read from its own log (the agent holds no
// credential that may query the startd): the last state change and how the daemon exited.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

export interface StartdFinal {
  /** The last `State/Activity` the startd logged (e.g. `Unclaimed/Idle`), or null. */
  state: string | null;
  /** The startd's exit line (`EXITING WITH STATUS 0`), or null when it did not log one. */
  exit: string | null;
}

const TAIL_BYTES = 256 * 1024;

function tail(path: string, bytes = TAIL_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Parse a StartLog's text. */
export function parseStartdLog(text: string): StartdFinal {
  let st = '?';
  let activity = '?';
  let seen = false;
  let exit: string | null = null;
  for (const line of text.split('\n')) {
    const both = /Changing state and activity: \S+ -> (\S+)\/(\S+)/.exec(line);
    const one = /Changing state: \S+ -> (\S+)/.exec(line);
    const act = /Changing activity: \S+ -> (\S+)/.exec(line);
    if (both) [st, activity] = [both[1]!, both[2]!];
    else if (one) st = one[1]!;
    else if (act) activity = act[1]!;
    seen ||= Boolean(both ?? one ?? act);
    const ex = /EXITING WITH STATUS (-?\d+)/.exec(line);
    if (ex) exit = `EXITING WITH STATUS ${ex[1]}`;
  }
  return { state: seen ? `${st}/${activity}` : null, exit };
}

export function startdFinalState(logDir: string): StartdFinal {
  return parseStartdLog(tail(join(logDir, 'StartLog')));
}

/** The startd's exit line with DAEMON_NO_RESTART (99): its master will not start it again. */
const NO_RESTART_EXIT = 'EXITING WITH STATUS 99';
const LEFT_FOR_GOOD = new RegExp(`${NO_RESTART_EXIT}\\s*$`);

/** Whether a startd's final state is that exit (it left through DAEMON_SHUTDOWN or idleness). */
export function exitedForGood(f: StartdFinal | null): boolean {
  return f?.exit === NO_RESTART_EXIT;
}
const UPDATE_FAILED = /^.*(?:Failed to start non-blocking update|Collector update failed).*$/gm;

/**
 * What the agent watches in the StartLog while the glidein runs, from one read of its tail:
 * - the startd leaving for good: its last line is the exit with status 99 (HTCondor's
 *   DAEMON_NO_RESTART, after STARTD.DAEMON_SHUTDOWN at retire or STARTD_NOCLAIM_SHUTDOWN when
 *   idle); the master would linger until its own next collector update (MASTER_UPDATE_INTERVAL,
 *   5 min) evaluates DAEMON_SHUTDOWN_FAST, so the agent stops it (seen with HTCondor 25.14);
 * - a collector update that failed since the last look: a restarted collector no longer knows
 *   the startd's session, and HTCondor 25.14 then waited for its next UPDATE_INTERVAL (5 min)
 *   before authenticating again.
 */
export class StartdLogWatch {
  readonly #path: string;
  #lastFailure = '';

  constructor(logDir: string) {
    this.#path = join(logDir, 'StartLog');
  }

  poll(): { leftForGood: boolean; updateFailed: boolean } {
    const text = tail(this.#path, 8192);
    const last = text.match(UPDATE_FAILED)?.at(-1) ?? '';
    const updateFailed = last !== '' && last !== this.#lastFailure;
    if (last !== '') this.#lastFailure = last;
    return { leftForGood: LEFT_FOR_GOOD.test(text), updateFailed };
  }
}
