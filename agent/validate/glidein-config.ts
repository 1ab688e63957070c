// GlideinWMS's custom-script protocol (issue 24 section 1), as its 3.11 scripts behave when run:
// `glidein_config` is a key-value file, one `KEY VALUE` line each (the key up to the first
// space, the value the rest of the line; the last line of a key counts; a line with no space
// holds no value). A script publishes an attribute with add_config_line (every line of the key
// removed, `KEY VALUE` appended, the file replaced by rename) and exports it to the startd with
// add_condor_vars_line in the file `CONDOR_VARS_FILE` names (`NAME TYPE DEFAULT CONDORNAME
// REQUIRED EXPORT USERENV`, e.g. `GLIDEIN_CPUS I - + N Y -`), which condor_startup.sh turns into
// `NAME=value` (`NAME="value"` for type S) in the condor config and STARTD_ATTRS.
import { chmod, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { AttributeValue } from './types.ts';

/** The value of every key, the last line of a key winning (gconfig_get reads the file with tac | grep -m1). */
export function parseGlideinConfig(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    values.set(line.slice(0, space), line.slice(space + 1));
  }
  return values;
}

/** A name add_config_line and condor_vars handle as one word: ClassAd attribute syntax. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The text of a value as glidein_config and the condor config carry it. condor_startup.sh
 * pastes it unquoted into `eval "$NAME='$value'"` and into `NAME="value"`, and HTCondor expands
 * `$(…)` in its config: `'`, `"`, `\`, `$` and control characters (line breaks included)
 * would break the glidein or change what the startd advertises, so each becomes `_`.
 */
export function condorSafeValue(value: AttributeValue): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value).replace(/['"\\$\u0000-\u001f\u007f]/g, '_');
}

/** condor_vars.lst type: S quoted string, I integer, C anything HTCondor reads as is (booleans, reals). */
export function condorVarsType(value: AttributeValue): 'S' | 'I' | 'C' {
  if (typeof value === 'string') return 'S';
  if (typeof value === 'number' && Number.isInteger(value)) return 'I';
  return 'C';
}

/** The condor_vars.lst line that exports NAME to the startd, not required, no default, not in the job's environment. */
export function condorVarsLine(name: string, value: AttributeValue): string {
  return `${name} ${condorVarsType(value)} - + N Y -`;
}

/** Replace FILE by rename, keeping its mode (add_config_line copies with `cp -p`); the temp file is removed on failure. */
async function replaceKeepingMode(path: string, text: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o7777;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { flag: 'wx', mode });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Every line of these keys removed, then one `KEY VALUE` line per key appended (add_config_line, all at once). */
export function withLines(text: string, entries: [string, string][], keyOf: (line: string) => string): string {
  const keys = new Set(entries.map(([k]) => k));
  const kept = text.split('\n');
  if (kept.at(-1) === '') kept.pop();
  const out = kept.filter((line) => !keys.has(keyOf(line)));
  for (const [, line] of entries) out.push(line);
  return out.join('\n') + '\n';
}

const configKey = (line: string) => (line.indexOf(' ') > 0 ? line.slice(0, line.indexOf(' ')) : '');
const varsKey = (line: string) => line.split(/[ \t]/, 1)[0] ?? '';

export interface PublishResult {
  published: string[];
  /** Names left out: not ClassAd attribute names, HTCondor's own GPU attributes, or already GlideinWMS's (see `takenNames`). */
  skipped: string[];
  /** The condor_vars file written, or null when glidein_config names none. */
  condorVarsFile: string | null;
}

/**
 * Names the glidein's own startd advertises from HTCondor's GPU discovery: a config macro of
 * the same name in STARTD_ATTRS would shadow HTCondor's value, so glidein leaves them to it.
 */
const HTCONDOR_OWN = /^(DetectedGPUs|GPUs_\w+)$/;

/** The condor_vars files condor_startup.sh reads, in its order (the main one last). */
const VARS_KEYS = ['GLIDECLIENT_GROUP_CONDOR_VARS_FILE', 'GLIDECLIENT_CONDOR_VARS_FILE', 'ENTRY_CONDOR_VARS_FILE', 'CONDOR_VARS_FILE'];

/**
 * Names glidein must not overwrite: those glidein_config already holds, or that a condor_vars
 * file already lists, other than with the very line glidein writes (its own earlier run).
 * GLIDEIN_CPUS, for one, is the factory's request (condor_vars.lst exports it to the job's
 * environment); replacing it with the node's count would change what the startd claims.
 */
function takenNames(names: string[], values: Map<string, string>, varsLines: string[], attributes: Record<string, AttributeValue>): Set<string> {
  const listed = new Map<string, string[]>();
  for (const line of varsLines) {
    const key = varsKey(line.trim());
    if (key !== '' && !key.startsWith('#')) listed.set(key, [...(listed.get(key) ?? []), line.trim().split(/\s+/).join(' ')]);
  }
  const taken = new Set<string>();
  for (const n of names) {
    const lines = listed.get(n);
    const ours = lines !== undefined && lines.every((l) => l === condorVarsLine(n, attributes[n]!));
    if (ours) continue;
    if (lines !== undefined || (values.get(n) ?? '') !== '') taken.add(n);
  }
  return taken;
}

async function readVarsFiles(configPath: string, values: Map<string, string>): Promise<string[]> {
  const lines: string[] = [];
  for (const key of VARS_KEYS) {
    const name = values.get(key);
    if (name) lines.push(...(await readFile(resolve(dirname(configPath), name), 'utf8')).split('\n'));
  }
  return lines;
}

/**
 * Publish the attributes the way add_config_line + add_condor_vars_line do: into glidein_config,
 * and, when it names a `CONDOR_VARS_FILE`, into that file so condor_startup.sh exports them.
 * A name GlideinWMS already set is left as it is (takenNames).
 */
export async function publishAttributes(configPath: string, attributes: Record<string, AttributeValue>): Promise<PublishResult> {
  const config = await readFile(configPath, 'utf8');
  const values = parseGlideinConfig(config);
  const names = Object.keys(attributes).filter((n) => NAME.test(n) && !HTCONDOR_OWN.test(n));
  const taken = takenNames(names, values, await readVarsFiles(configPath, values), attributes);
  const published = names.filter((n) => !taken.has(n));
  const skipped = Object.keys(attributes).filter((n) => !published.includes(n));
  const lines: [string, string][] = published.map((n) => [n, `${n} ${condorSafeValue(attributes[n]!)}`]);
  await replaceKeepingMode(configPath, withLines(config, lines, configKey));
  const varsName = values.get('CONDOR_VARS_FILE');
  if (!varsName) return { published, skipped, condorVarsFile: null };
  const varsPath = resolve(dirname(configPath), varsName);
  const vars = await readFile(varsPath, 'utf8');
  await replaceKeepingMode(varsPath, withLines(vars, published.map((n) => [n, condorVarsLine(n, attributes[n]!)]), varsKey));
  return { published, skipped, condorVarsFile: varsPath };
}
