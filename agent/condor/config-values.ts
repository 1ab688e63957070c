// Safe pieces of an HTCondor config file. HTCondor expands `$(…)` and `$ENV(…)` everywhere in
// a value (inside quotes too), continues a line that ends in `\`, and treats lines such as
// `@include`, `include : cmd |` and `@=TAG` as directives. Every value the agent writes is one
// line with no `$` and no trailing backslash, and every name is checked, so neither a bundle
// nor a host fact can add a directive, run a command or pull in another setting.
import { GlideinError } from '../../shared/errors.ts';

/** A config name that is also a ClassAd attribute name: no subsystem prefix (`STARTD.X`). */
export const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

/** Why `text` cannot be written into a config value, or null when it can. */
export function unsafeValueReason(text: string): string | null {
  if (/[\r\n\0]/.test(text)) return 'contains a line break or NUL';
  if (text.includes('$')) return "contains '$' (HTCondor would expand it as a macro)";
  if (/\\\s*$/.test(text)) return 'ends with a backslash (HTCondor would join the next line)';
  if (text.length > 4096) return 'is longer than 4096 characters';
  return null;
}

/** A ClassAd literal for a config value: numbers and booleans as is, strings quoted and escaped. */
export function classAdValue(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'UNDEFINED';
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path the agent writes into the config (work dir, token dir, HTCondor's own dirs). */
export function configPath(path: string, what: string): string {
  const why = unsafeValueReason(path) ?? (path.startsWith('/') ? null : 'is not absolute');
  if (why) throw new GlideinError('GLIDEIN_ERR_CONFIG', `--condor: the ${what} ${JSON.stringify(path)} ${why}; it cannot go into an HTCondor config`);
  return path;
}

/** Quote a path for a POSIX shell script (the job wrapper's launcher). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Join `NAME = value` lines; the names and values were checked by their makers. */
export function configLines(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}
