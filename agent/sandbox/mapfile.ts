// HTCondor-style mapfile (INTEROP.md): `SCITOKENS /regex/ account` lines, first match wins,
// matched against `iss + "," + sub`. Other methods' lines are skipped; a malformed line is an error.
import { readFile } from 'node:fs/promises';
import { GlideinError, errnoCode } from '../../shared/errors.ts';

export interface MapRule {
  readonly line: number;
  readonly pattern: RegExp;
  readonly account: string;
}

const ACCOUNT = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/** Parse a mapfile's text; `where` names it in errors (GLIDEIN_ERR_POLICY). */
export function parseMapfile(text: string, where = 'mapfile'): MapRule[] {
  const rules: MapRule[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${i + 1}: expected 'METHOD /regex/ account'`);
    if (m[1] !== 'SCITOKENS') return;
    const rest = m[2]!;
    // The regex runs from the first '/' to the last unescaped '/', then optional flags.
    const r = /^\/((?:\\.|[^\\/])*)\/([i]*)\s+(\S+)\s*$/.exec(rest);
    if (!r) throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${i + 1}: expected 'SCITOKENS /regex/ account'`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(r[1]!, r[2]);
    } catch (cause) {
      throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${i + 1}: bad regular expression (${(cause as Error).message})`, { cause });
    }
    if (!ACCOUNT.test(r[3]!)) throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${i + 1}: '${r[3]}' is not a valid account name`);
    rules.push({ line: i + 1, pattern, account: r[3]! });
  });
  return rules;
}

export async function loadMapfile(path: string): Promise<MapRule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new GlideinError('GLIDEIN_ERR_POLICY', `${path}: cannot read the mapfile (${errnoCode(cause) ?? String(cause)})`, { cause });
  }
  return parseMapfile(text, path);
}

/** The account for `iss,sub`, or null when no rule matches. */
export function mapIdentity(rules: readonly MapRule[], iss: string, sub: string): string | null {
  const key = `${iss},${sub}`;
  for (const rule of rules) if (rule.pattern.test(key)) return rule.account;
  return null;
}
