// Whether a process still runs, for tests that check nothing outlived a kill. A SIGKILL is
// delivered asynchronously and a killed orphan stays a zombie until its new parent reaps it (in
// a container whose pid 1 does not reap, for ever), so "gone" is: no /proc entry, or a zombie;
// and the check waits a little for the kernel to finish the kill.
import { readFileSync } from 'node:fs';

export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) STATE ...: comm may hold spaces and parentheses; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True once `pid` is gone (or a zombie); false if it still runs after `withinMs`. */
export async function endsWithin(pid: number, withinMs = 10_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (isRunning(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
