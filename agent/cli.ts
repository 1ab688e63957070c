#!/usr/bin/env node
// The entry point of the glidein executable. Only this file calls process.exit: every command
// returns an exit code or throws; errors are mapped to exit codes here (STYLE.md example 10).
// What a command needs beyond this dispatch loads when that command runs (issue 27 section 5):
// the help texts (built from the command table), node:v8 for the pilot's lean runtime and each
// command's module, so `--version` and a command's start pay for nothing else.
import { basename } from 'node:path';
import type { CommandContext } from './command.ts';
import { COMMAND_GROUPS, expectedCommands, findCommand } from './command-table.ts';
import { GlideinError, UsageError } from '../shared/errors.ts';
import { createLogger, defaultLogFormat, parseLogLevel, type LogFormat, type LogLevel, type Logger } from '../shared/log.ts';
import { reportError } from './error-report.ts';
import { VERSION } from '../shared/version.ts';
import { closeInheritedDescriptors } from './sandbox/inherited-fds.ts';


interface GlobalOptions {
  logFormat: LogFormat | undefined;
  logLevel: LogLevel | undefined;
  rest: string[];
  /** A bad global flag: reported once the log format is known (a JSON line with --log-format json). */
  error: UsageError | undefined;
}

/** Pull the global flags out of argv (anywhere before a literal `--`). */
function extractGlobals(argv: readonly string[]): GlobalOptions {
  const rest: string[] = [];
  let logFormat: LogFormat | undefined;
  let logLevel: LogLevel | undefined;
  let error: UsageError | undefined;
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const [flag, inline] = a.startsWith('--log-') ? a.split(/=(.*)/s, 2) : [a, undefined];
    if (flag === '--log-format' || flag === '--log-level') {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('-'))) {
        error ??= new UsageError(`${flag} needs a value (${flag === '--log-format' ? 'human or json' : 'debug, info, warn or error'})`);
      } else if (given.has(flag)) {
        error ??= new UsageError(`${flag} was given twice ('${given.get(flag)}' and '${value}'); it takes one value`);
      } else if (flag === '--log-format') {
        if (value === 'human' || value === 'json') logFormat = value;
        else error ??= new UsageError(`--log-format '${value}' is not valid; expected human or json`);
      } else {
        logLevel = parseLogLevel(value);
        if (!logLevel) error ??= new UsageError(`--log-level '${value}' is not valid; expected debug, info, warn or error`);
      }
      if (value !== undefined) given.set(flag, value);
      continue;
    }
    rest.push(a);
  }
  return { logFormat, logLevel, rest, error };
}

function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export interface MainIo {
  stdout: CommandContext['stdout'];
  stderr: CommandContext['stderr'];
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  const globals = extractGlobals(argv);
  const level = globals.logLevel ?? 'info';
  // Made on first use: `--version` and `--help` never open stderr (a stream costs a start-up).
  let logger: Logger | undefined;
  const log = () => (logger ??= createLogger({ format: globals.logFormat ?? defaultLogFormat(io.stderr), level, sink: io.stderr }));
  try {
    if (globals.error) throw globals.error;
    const args = globals.rest;
    const first = args[0];
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write((await import('./help.ts')).MAIN_HELP);
      return first === undefined ? 2 : 0;
    }
    if (first === '--version' || first === '-V' || first === 'version') {
      io.stdout.write(`glidein ${VERSION} (node ${process.versions.node})\n`);
      return 0;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown flag ${first}; see 'glidein --help'`);
    let name = first;
    let rest = args.slice(1);
    const script = asGlideinScript(args);
    if (script) {
      name = 'validate';
      rest = script;
    } else if (COMMAND_GROUPS.has(first)) {
      const sub = rest[0];
      if (sub === undefined || sub === '--help' || sub === '-h') {
        io.stdout.write((await import('./help.ts')).COMMAND_HELP[first]!);
        return sub === undefined ? 2 : 0;
      }
      name = `${first} ${sub}`;
      rest = rest.slice(1);
      if (!findCommand(name)) throw new UsageError(`unknown command '${name}'; expected ${expectedCommands(first)}`);
    }
    const load = findCommand(name)?.load;
    if (!load) throw new UsageError(`unknown command '${first}'; expected ${expectedCommands()}; see 'glidein --help'`);
    if (wantsHelp(rest)) {
      const { COMMAND_HELP, MAIN_HELP } = await import('./help.ts');
      io.stdout.write(COMMAND_HELP[name] ?? MAIN_HELP);
      return 0;
    }
    // The pilot process itself, not a test that calls main(), runs on V8's interpreter only.
    if (name === 'run' && isProcessEntry) (await import('./pilot/lean-runtime.ts')).useLeanRuntime();
    const mod = await load();
    return await mod.run(rest, { log: log(), ...(globals.logLevel ? { logLevel: globals.logLevel } : {}), stdout: io.stdout, stderr: io.stderr, env: io.env, signal: io.signal });
  } catch (e) {
    return reportError(e, { log: log(), stderr: io.stderr, level, formatGiven: globals.logFormat !== undefined });
  }
}

/**
 * GlideinWMS runs a factory's or VO's executable as `SCRIPT glidein_config ENTRY_ID` (issue 24
 * section 1): invoked that way, glidein is `glidein validate --glidein-config glidein_config`.
 */
function asGlideinScript(args: readonly string[]): string[] | null {
  const [first, id, ...more] = args;
  if (first === undefined || findCommand(first) || COMMAND_GROUPS.has(first) || basename(first) !== 'glidein_config') return null;
  if (more.length > 0 || id?.startsWith('-')) throw new UsageError(`as a GlideinWMS custom script glidein takes 'glidein_config [ENTRY_ID]'; got ${args.length} arguments`);
  return ['--glidein-config', first];
}

let isProcessEntry = false;
/** Start-up when this file is the process entry (the executable, the bundle, or `node agent/cli.ts`). */
function start(): void {
  isProcessEntry = true;
  // First of all: no descriptor our parent leaked may reach a wrapper or payload (issue 11, item 5).
  closeInheritedDescriptors();
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // A second signal while draining: give up at once (128 + signal number).
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    controller.abort(new GlideinError('GLIDEIN_ERR_INTERNAL', `received ${sig}`));
  };
  // The streams and the signal handlers are set up when main first asks for them (a command
  // runs): `--version` and `--help` start no stderr stream and no signal watcher.
  let stdoutUsed = false;
  let listening = false;
  const io: MainIo = {
    get stdout() {
      stdoutUsed = true;
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    get signal() {
      if (!listening) {
        listening = true;
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      }
      return controller.signal;
    },
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      // Let stdout drain before leaving: results are on stdout and must not be cut.
      process.exitCode = code;
      if (!stdoutUsed || process.stdout.writableLength === 0) process.exit(code);
      process.stdout.once('drain', () => process.exit(code));
    },
    (e: unknown) => {
      process.stderr.write(`glidein: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

declare const __GLIDEIN_BUNDLE__: boolean | undefined;
const isEntry =
  (typeof __GLIDEIN_BUNDLE__ !== 'undefined' && __GLIDEIN_BUNDLE__) ||
  (process.argv[1] !== undefined && /[\\/]agent[\\/]cli\.ts$/.test(process.argv[1]));
if (isEntry) start();
