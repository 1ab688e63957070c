// HTCondor-style mapfile (INTEROP.md, README "Mapfile"): one rule per line, first match in file
// order wins. `SCITOKENS /regex/ account` lines are HTCondor-CE's, matched against `iss + "," +
// sub`. A multi-VO issuer (EGI Check-In) uses one `iss` for many communities, so glidein adds
// lines matching a claim value of a given issuer (issue 15 part 2):
//   GROUP <issuer> <group> <account>                 a `wlcg.groups` entry
//   ENTITLEMENT <issuer> <entitlement> <account>     an `eduperson_entitlement` value
//   SCOPE <issuer> <scope> <account>                 an item of the space-separated `scope`
// Issuer and value compare exactly (no regex, no prefix). Fields are separated by blanks; a field
// with blanks or starting with `"` is written in double quotes, where `\"` and `\\` are the only
// escapes. Other methods' lines (GSI, CLAIMTOBE …) are skipped; a malformed line is an error.
import { readFileSafely } from '../../shared/safe-open.ts';
import { GlideinError } from '../../shared/errors.ts';

export type ClaimMethod = 'GROUP' | 'ENTITLEMENT' | 'SCOPE';

export type MapMatch = { readonly method: 'SCITOKENS'; readonly pattern: RegExp } | { readonly method: ClaimMethod; readonly issuer: string; readonly value: string };

export interface MapRule {
  readonly line: number;
  readonly match: MapMatch;
  readonly account: string;
}

/** What a verified identity token offers the mapfile. */
export interface TokenClaims {
  readonly iss: string;
  readonly sub: string;
  /** `wlcg.groups` */
  readonly groups: readonly string[];
  /** `eduperson_entitlement` */
  readonly entitlements: readonly string[];
  /** the items of `scope` */
  readonly scopes: readonly string[];
}

/** A mapfile of a large VO is a few thousand lines; 4 MiB leaves room and still bounds the read. */
const MAX_MAPFILE_BYTES = 4 * 1024 * 1024;
const ACCOUNT = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/** A name the mapfile accepts as a local account (and `validate --as` too). */
export function isAccountName(name: string): boolean {
  return ACCOUNT.test(name);
}
const CLAIM_METHODS: ReadonlySet<string> = new Set(['GROUP', 'ENTITLEMENT', 'SCOPE']);

function lineError(where: string, n: number, message: string, cause?: unknown): GlideinError {
  return new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${n}: ${message}`, cause === undefined ? {} : { cause });
}

/** Blank-separated fields; `"…"` quotes a field, with `\"` and `\\` as its only escapes. */
export function splitFields(text: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return { error: 'unterminated quoted field' };
        const c = text[i]!;
        if (c === '"') break;
        if (c === '\\') {
          const next = text[i + 1];
          if (next !== '"' && next !== '\\') return { error: `unknown escape '\\${next ?? ''}' in a quoted field (only \\" and \\\\)` };
          field += next;
          i += 2;
          continue;
        }
        field += c;
        i++;
      }
      i++;
      if (i < text.length && text[i] !== ' ' && text[i] !== '\t') return { error: 'a quoted field must end at a blank or the end of the line' };
      if (field === '') return { error: 'empty quoted field' };
    } else {
      while (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
        if (text[i] === '"') return { error: "a '\"' inside an unquoted field" };
        field += text[i];
        i++;
      }
    }
    fields.push(field);
  }
  return fields;
}

function parseScitokens(rest: string, where: string, n: number): MapRule | null {
  // HTCondor-CE's reading (CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS = True): an empty `//` is an
  // empty principal, so MapFile.cpp skips the line and it maps no one (checked with HTCondor
  // 25.14's userMap, 2026-12-07). A JavaScript empty regex would match everyone (issue 24 part 3).
  if (/^\/\/[iU]*(\s|$)/.test(rest)) return null;
  // The regex runs from the first '/' to the last unescaped '/', then optional flags.
  const r = /^\/((?:\\.|[^\\/])*)\/([i]*)\s+(\S+)\s*$/.exec(rest);
  if (!r) throw lineError(where, n, "expected 'SCITOKENS /regex/ account'");
  let pattern: RegExp;
  try {
    pattern = new RegExp(r[1]!, r[2]);
  } catch (cause) {
    throw lineError(where, n, `bad regular expression (${(cause as Error).message})`, cause);
  }
  return { line: n, match: { method: 'SCITOKENS', pattern }, account: r[3]! };
}

function parseClaimLine(method: ClaimMethod, rest: string, where: string, n: number): MapRule {
  const fields = splitFields(rest);
  const usage = `expected '${method} <issuer> <${method.toLowerCase()}> <account>'`;
  if (!Array.isArray(fields)) throw lineError(where, n, `${fields.error}; ${usage}`);
  if (fields.length !== 3) throw lineError(where, n, `${usage}, found ${fields.length} field${fields.length === 1 ? '' : 's'} after ${method}`);
  return { line: n, match: { method, issuer: fields[0]!, value: fields[1]! }, account: fields[2]! };
}

/** Parse a mapfile's text; `where` names it in errors (GLIDEIN_ERR_POLICY). */
export function parseMapfile(text: string, where = 'mapfile'): MapRule[] {
  const rules: MapRule[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    const n = i + 1;
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw lineError(where, n, "expected 'METHOD … account'");
    const method = m[1]!;
    let rule: MapRule | null;
    if (method === 'SCITOKENS') rule = parseScitokens(m[2]!, where, n);
    else if (CLAIM_METHODS.has(method)) rule = parseClaimLine(method as ClaimMethod, m[2]!, where, n);
    else return;
    if (rule === null) return;
    if (!isAccountName(rule.account)) throw lineError(where, n, `'${rule.account}' is not a valid account name`);
    rules.push(rule);
  });
  return rules;
}

export async function loadMapfile(path: string): Promise<MapRule[]> {
  const text = (await readFileSafely(path, { code: 'GLIDEIN_ERR_POLICY', what: 'mapfile', maxBytes: MAX_MAPFILE_BYTES })).toString('utf8');
  return parseMapfile(text, path);
}

function matches(m: MapMatch, c: TokenClaims): boolean {
  switch (m.method) {
    case 'SCITOKENS':
      return m.pattern.test(`${c.iss},${c.sub}`);
    case 'GROUP':
      return m.issuer === c.iss && c.groups.includes(m.value);
    case 'ENTITLEMENT':
      return m.issuer === c.iss && c.entitlements.includes(m.value);
    case 'SCOPE':
      return m.issuer === c.iss && c.scopes.includes(m.value);
  }
}

/** The first rule in file order that the claims match, or null. */
export function mapClaims(rules: readonly MapRule[], claims: TokenClaims): MapRule | null {
  return rules.find((r) => matches(r.match, claims)) ?? null;
}

/** The account for `iss,sub` alone (SCITOKENS lines), or null when no rule matches. */
export function mapIdentity(rules: readonly MapRule[], iss: string, sub: string): string | null {
  return mapClaims(rules, { iss, sub, groups: [], entitlements: [], scopes: [] })?.account ?? null;
}

/** Every account the mapfile can map to, in file order, each once (the self-test's accounts). */
export function mappedAccounts(rules: readonly MapRule[]): string[] {
  return [...new Set(rules.map((r) => r.account))];
}
