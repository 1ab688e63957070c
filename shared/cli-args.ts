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

/** The flag a node:util parseArgs message quotes ('--format <value>' → --format). */
function quotedFlag(message: string): string | undefined {
  return /'(-[^' ]*)/.exec(message)?.[1];
}

/** parseArgs' error in glidein's words: the flag and what was expected (issue 26 item 6). */
function parseError(command: string, head: readonly string[], cause: unknown): UsageError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: string }).code;
  const flag = quotedFlag(message);
  const help = `see 'glidein ${command} --help'`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return new UsageError(`${command}: unknown flag ${flag}; ${help}`, { cause });
  if (flag && /does not take an argument/.test(message)) return new UsageError(`${command}: ${flag} takes no value; ${help}`, { cause });
  if (flag && /argument is ambiguous|argument missing/.test(message)) {
    const next = head[head.indexOf(flag) + 1];
    if (next === undefined || !/argument is ambiguous/.test(message)) return new UsageError(`${command}: ${flag} needs a value; ${help}`, { cause });
    const what = /^-\d/.test(next) ? `'${next}' is taken for a flag, not a value (to give a value starting with '-', write ${flag}=${next})` : `the next argument '${next}' is a flag (to give a value starting with '-', write ${flag}=VALUE)`;
    return new UsageError(`${command}: ${flag} needs a value; ${what}`, { cause });
  }
  return new UsageError(`${command}: ${flag ? `${flag} is not valid` : 'the arguments are not valid'}; ${help}`, { cause });
}

/** A single-value flag given twice would silently take the last value: refuse it, naming both. */
function refuseRepeats(command: string, options: OptionSpec, tokens: readonly { kind: string; name?: string; value?: string | undefined }[]): void {
  const seen = new Map<string, string | undefined>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    const spec = options[t.name];
    if (!spec || spec.multiple || spec.type !== 'string') continue;
    if (seen.has(t.name)) {
      throw new UsageError(`${command}: --${t.name} was given twice ('${seen.get(t.name)}' and '${t.value}'); it takes one value`);
    }
    seen.set(t.name, t.value);
  }
}

/** Parse `argv` for command `command`; unknown flags, missing values and repeated flags name the flag. */
export function parseCommandArgs(command: string, argv: readonly string[], options: OptionSpec, maxPositionals = 0): ParsedArgs {
  const dashIndex = argv.indexOf('--');
  const head = dashIndex === -1 ? argv : argv.slice(0, dashIndex);
  const rest = dashIndex === -1 ? undefined : argv.slice(dashIndex + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: [...head], options, strict: true, allowPositionals: true, tokens: true });
  } catch (cause) {
    throw parseError(command, head, cause);
  }
  refuseRepeats(command, options, parsed.tokens);
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
