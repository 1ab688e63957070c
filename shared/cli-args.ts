// Command-line option parsing shared by every command: node:util parseArgs in strict mode,
// with every failure turned into a UsageError that names the flag (exit 2).
import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /** Arguments after a literal `--`, untouched. */
  rest: string[] | undefined;
}

/** Parse `argv` for command `command`; unknown flags and missing values name the flag. */
export function parseCommandArgs(command: string, argv: readonly string[], options: OptionSpec, maxPositionals = 0): ParsedArgs {
  const dashIndex = argv.indexOf('--');
  const head = dashIndex === -1 ? argv : argv.slice(0, dashIndex);
  const rest = dashIndex === -1 ? undefined : argv.slice(dashIndex + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: [...head], options, strict: true, allowPositionals: true });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const flag = /'(-[^']*)'/.exec(message)?.[1];
    if ((cause as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
      throw new UsageError(`${command}: unknown flag ${flag}; see 'glidein ${command} --help'`, { cause });
    }
    throw new UsageError(`${command}: ${message.split('\n')[0]}`, { cause });
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`${command}: unexpected argument '${parsed.positionals[maxPositionals]}'; see 'glidein ${command} --help'`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals, rest };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) return v.at(-1) as string | undefined;
  return typeof v === 'string' ? v : undefined;
}

export function requiredStringFlag(command: string, args: ParsedArgs, name: string, what: string): string {
  const v = stringFlag(args, name);
  if (v === undefined || v === '') throw new UsageError(`${command}: --${name} is required (${what})`);
  return v;
}

export function stringListFlag(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A non-negative integer flag such as `--idle-timeout 1200`. */
export function integerFlag(command: string, args: ParsedArgs, name: string, options: { min?: number; max?: number } = {}): number | undefined {
  const raw = stringFlag(args, name);
  if (raw === undefined) return undefined;
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${command}: --${name} '${raw}' is not valid; expected an integer from ${min} to ${max}`);
  }
  return Number(raw);
}
