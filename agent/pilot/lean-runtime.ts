// The long-running agent (`glidein run`) trades V8's code generators for resident memory (issue
// 12, "Memory in production mode"). It holds a node for days and spends its CPU in system calls
// and OpenSSL, not in JavaScript; an optimizing compiler that wakes up on the job path costs its
// own code pages of the executable (Maglev, TurboFan, the baseline compiler, the regexp
// compiler: about 7 MiB resident) plus optimized code and compiler zones on the heap. Set once
// the command is known, after the bundle's code cache was accepted (V8 rejects a cache made under
// other flags), so other commands, and the refresh service above all, keep every tier.
import { setFlagsFromString } from 'node:v8';

/**
 * The interpreter only (what `--jitless` gives, which can only be set before V8 starts, so for
 * every command), and the heap's memory-saving heuristics (`--optimize-for-size`: about 1.5 MiB).
 */
export const LEAN_AGENT_V8_FLAGS = ['--no-opt', '--no-maglev', '--no-sparkplug', '--regexp-interpret-all', '--optimize-for-size'] as const;

/** Switch this process's V8 to the interpreter for all code it compiles or tiers up from now on. */
export function useLeanRuntime(): void {
  for (const flag of LEAN_AGENT_V8_FLAGS) setFlagsFromString(flag);
}
