// HTCondor mapfile (INTEROP.md, README "Mapfile"), read as HTCondor 25.14's MapFile.cpp reads
// CERTIFICATE_MAPFILE with CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS = True (HTCondor-CE's setting);
// the table in test/sandbox/htcondor-mapfile-table.ts holds HTCondor's own answers. One rule per
// line, first match in file order wins:
//   SCITOKENS /regex/flags account    PCRE2 (pcre.ts), unanchored, on the bytes of `iss,sub`
//   SCITOKENS principal account       a literal `iss,sub` (quoted or not)
//   @include PATH                     a file, or a directory's files (mapfile-include.ts)
// Fields split as mapfile-fields.ts says; method names ignore case; text after the account is
// ignored (so a trailing `# comment` is); `\1`… in the account take the regex's groups; the
// local account is the part before the last '@'. A line HTCondor would skip (empty field, a
// regex PCRE2 does not compile, a nested @include) is skipped with a warning naming it, or
// refuses the file with `strictMapfile`. A regex construct glidein cannot translate exactly
// refuses the file. glidein adds GROUP / ENTITLEMENT / SCOPE lines (mapfile-own.ts).
import { GlideinError } from '../../shared/errors.ts';
import { translatePcre, pcreSubject, PcreCompileError, PcreUnsupported, type TranslatedRegex } from './pcre.ts';
import { parseField, mapfileLines, substitute, userPart } from './mapfile-fields.ts';
import { CLAIM_METHODS, parseClaimLine, type ClaimMethod } from './mapfile-own.ts';
import { includeTarget, readIncludes, readMapfileText, type Included } from './mapfile-include.ts';

export { splitFields, type ClaimMethod } from './mapfile-own.ts';

export type MapMatch =
  | { readonly method: 'SCITOKENS'; readonly regex: TranslatedRegex; readonly pattern: string }
  | { readonly method: 'SCITOKENS'; readonly principal: string }
  | { readonly method: ClaimMethod; readonly issuer: string; readonly value: string };

export interface MapRule {
  /** The file the line is in (an @include'd one or the mapfile) and its line number. */
  readonly file: string;
  readonly line: number;
  readonly match: MapMatch;
  /** The account field as written (latin1 bytes), before `\N` substitution and the '@' split. */
  readonly account: string;
  /** The whole line as written (without its line end), for messages and the audit record. */
  readonly text: string;
}

export interface Mapfile {
  readonly rules: readonly MapRule[];
  /** Lines skipped, each naming its file and line (HTCondor logs and skips them too). */
  readonly warnings: readonly string[];
}

export interface ParseOptions {
  /** `strictMapfile`: a line HTCondor would skip refuses the file instead. */
  readonly strict?: boolean;
  /** What the @include lines bring, by resolved path (loadMapfile reads them). */
  readonly includes?: ReadonlyMap<string, Included>;
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

const ACCOUNT = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/** A name the mapfile accepts as a local account (and `validate --as` too). */
export function isAccountName(name: string): boolean {
  return ACCOUNT.test(name);
}

const shown = (s: string): string => JSON.stringify(s);

function refused(where: string, n: number, message: string, cause?: unknown): GlideinError {
  return new GlideinError('GLIDEIN_ERR_POLICY', `${where}:${n}: ${message}`, cause === undefined ? {} : { cause });
}

class Reader {
  readonly rules: MapRule[] = [];
  readonly warnings: string[] = [];
  private readonly opts: ParseOptions;
  constructor(opts: ParseOptions) {
    this.opts = opts;
  }

  private skip(where: string, n: number, why: string): void {
    if (this.opts.strict) throw refused(where, n, `${why} (strictMapfile)`);
    this.warnings.push(`${where}:${n}: ${why}; line skipped, as HTCondor skips it`);
  }

  file(text: string, where: string, allowInclude: boolean): void {
    if (text.includes('\0')) throw refused(where, 1 + (text.slice(0, text.indexOf('\0')).match(/\n/g)?.length ?? 0), 'a NUL byte (HTCondor cuts the line there)');
    mapfileLines(text).forEach((raw, i) => this.line(raw.replace(/\r(?=\n?$)/, ''), where, i + 1, allowInclude));
  }

  private line(line: string, where: string, n: number, allowInclude: boolean): void {
    const text = Buffer.from(line.replace(/\n$/, ''), 'latin1').toString('utf8');
    const method = parseField(line, 0, false);
    if (method.overrun) throw refused(where, n, 'the line ends in a backslash inside a quoted field (HTCondor aborts reading it)');
    if (method.text === '@include') return this.include(line, where, n, allowInclude);
    if (method.text === '' || method.text.startsWith('#')) return;
    const upper = method.text.toUpperCase();
    if (CLAIM_METHODS.has(upper)) return this.claim(upper as ClaimMethod, line.slice(method.next), where, n, text);
    const principal = parseField(line, method.next, true);
    if (principal.overrun) throw refused(where, n, 'the line ends in a backslash inside a quoted or /regex/ field (HTCondor aborts reading it)');
    const account = parseField(line, principal.next, false);
    if (principal.text === '' || account.text === '') return this.skip(where, n, `expected 'METHOD principal account' (method ${shown(method.text)}, principal ${shown(principal.text)}, account ${shown(account.text)})`);
    if (upper !== 'SCITOKENS') return; // GSI, CLAIMTOBE …: not a token's
    if (principal.regex === null) {
      this.rules.push({ file: where, line: n, match: { method: 'SCITOKENS', principal: principal.text }, account: account.text, text });
      return;
    }
    let regex: TranslatedRegex;
    try {
      regex = translatePcre(principal.text, principal.regex);
    } catch (e) {
      if (e instanceof PcreUnsupported) throw refused(where, n, `regex ${shown(principal.text)}: ${e.message}; glidein matches only what it can translate exactly (README "Mapfile")`, e);
      if (e instanceof PcreCompileError) return this.skip(where, n, `regex ${shown(principal.text)} does not compile in PCRE2 (${e.message})`);
      throw e;
    }
    if (regex.repeatedGroups.size > 0 && /\\[0-9]/.test(account.text)) {
      throw refused(where, n, `account ${shown(account.text)} uses \\N with a regex in which a group is inside a repeated part: PCRE2 keeps its last value and JavaScript resets it, so glidein does not substitute them`);
    }
    this.rules.push({ file: where, line: n, match: { method: 'SCITOKENS', regex, pattern: principal.text }, account: account.text, text });
  }

  private claim(method: ClaimMethod, rest: string, where: string, n: number, text: string): void {
    const c = parseClaimLine(method, rest);
    if ('error' in c) return this.skip(where, n, c.error);
    this.rules.push({ file: where, line: n, match: { method, issuer: c.issuer, value: c.value }, account: c.account, text });
  }

  private include(line: string, where: string, n: number, allowInclude: boolean): void {
    if (!allowInclude) return this.skip(where, n, `@include is not allowed in an included file`);
    const target = includeTarget(line, where);
    if (target === null) return this.skip(where, n, '@include names no file');
    const inc = this.opts.includes?.get(target);
    if (inc === undefined) return this.skip(where, n, `@include ${target} was not read`);
    if ('error' in inc) return this.skip(where, n, inc.error);
    for (const f of inc.files) {
      if ('error' in f) this.skip(where, n, `@include: ${f.error}`);
      else this.file(f.text, f.path, false);
    }
  }
}

/** Parse a mapfile's text (latin1 bytes); `where` names it in warnings and errors (GLIDEIN_ERR_POLICY). */
export function parseMapfile(text: string, where = 'mapfile', opts: ParseOptions = {}): Mapfile {
  const r = new Reader(opts);
  r.file(text, where, true);
  return { rules: r.rules, warnings: r.warnings };
}

/** Read and parse the mapfile at `path` and every file it @includes. */
export async function loadMapfile(path: string, opts: { strict?: boolean } = {}): Promise<Mapfile> {
  const text = await readMapfileText(path);
  return parseMapfile(text, path, { ...opts, includes: await readIncludes(text, path) });
}

export interface Mapping {
  readonly rule: MapRule;
  /** HTCondor's canonical name: the account field after `\N` substitution (null: HTCondor reads past its end). */
  readonly canonical: string | null;
  /** The local account (before the last '@'), or null when that is not an account name: the job is held. */
  readonly account: string | null;
}

function groupsOf(m: RegExpExecArray): string[] {
  let rc = m.length;
  while (rc > 1 && m[rc - 1] === undefined) rc--;
  return m.slice(0, rc).map((g) => g ?? '');
}

/** The groups of a match, or null when the rule does not match. */
function matchRule(rule: MapRule, subject: string, c: TokenClaims): string[] | null {
  const m = rule.match;
  switch (m.method) {
    case 'SCITOKENS': {
      if ('principal' in m) return m.principal === subject ? [subject] : null;
      const r = m.regex.regex.exec(subject);
      return r === null ? null : groupsOf(r);
    }
    case 'GROUP':
      return m.issuer === pcreSubject(c.iss) && c.groups.some((g) => pcreSubject(g) === m.value) ? [] : null;
    case 'ENTITLEMENT':
      return m.issuer === pcreSubject(c.iss) && c.entitlements.some((g) => pcreSubject(g) === m.value) ? [] : null;
    case 'SCOPE':
      return m.issuer === pcreSubject(c.iss) && c.scopes.some((g) => pcreSubject(g) === m.value) ? [] : null;
  }
}

/** An identity HTCondor would see cut or changed (a NUL, a lone surrogate) is mapped by no line. */
function mappable(c: TokenClaims): boolean {
  return [c.iss, c.sub].every((s) => s.isWellFormed() && !s.includes('\0'));
}

/** The first rule in file order that the claims match, and the account it gives; null when none matches. */
export function mapClaims(mapfile: Mapfile, claims: TokenClaims): Mapping | null {
  if (!mappable(claims)) return null;
  const subject = pcreSubject(`${claims.iss},${claims.sub}`);
  for (const rule of mapfile.rules) {
    const groups = matchRule(rule, subject, claims);
    if (groups === null) continue;
    const canonical = substitute(rule.account, groups);
    const user = canonical === null ? null : userPart(canonical);
    return { rule, canonical, account: user !== null && isAccountName(user) ? user : null };
  }
  return null;
}

/** HTCondor's canonical name for `iss,sub` (SCITOKENS lines only), or null when no rule matches. */
export function mapIdentity(mapfile: Mapfile, iss: string, sub: string): string | null {
  return mapClaims(mapfile, { iss, sub, groups: [], entitlements: [], scopes: [] })?.canonical ?? null;
}

/** Every account the mapfile can map to without substitution, in file order, each once (the self-test's accounts). */
export function mappedAccounts(mapfile: Mapfile): string[] {
  const names = mapfile.rules.filter((r) => !r.account.includes('\\')).map((r) => userPart(r.account));
  return [...new Set(names.filter(isAccountName))];
}

/**
 * A `SCITOKENS /^…$/ account` line matching exactly `iss,sub` as HTCondor reads it: `/` as `\/`,
 * a backslash as four (ParseField halves them, PCRE2 needs two), PCRE2 metacharacters escaped,
 * control characters as `\xhh`, and `\z` at the end (`$` would also match before a final newline).
 */
export function exactIdentityLine(iss: string, sub: string, account: string): string {
  const lit = (s: string): string =>
    [...s]
      .map((c) => {
        if (c === '/') return '\\/';
        if (c === '\\') return '\\\\\\\\';
        if ('.*+?^$()[]{}|'.includes(c)) return `\\${c}`;
        const code = c.codePointAt(0)!;
        return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
      })
      .join('');
  return `SCITOKENS /^${lit(iss)},${lit(sub)}\\z/ ${account}`;
}
