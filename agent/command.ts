// What a command module looks like, and the context the entry point hands it.
import type { LogLevel, Logger } from '../shared/log.ts';

export interface CommandContext {
  log: Logger;
  /** The --log-level given on the command line, if one was (a command with a quieter default of its own honours it). */
  logLevel?: LogLevel;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted when the process receives SIGINT/SIGTERM: commands drain and return. */
  signal: AbortSignal;
}

/** A command returns its exit code; expected failures are values, bugs and usage errors throw. */
export type CommandRun = (argv: string[], ctx: CommandContext) => Promise<number>;

export interface CommandModule {
  run: CommandRun;
}
