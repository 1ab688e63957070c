// One mapfile line split into fields as HTCondor's MapFile::ParseField does (HTCondor 25.14,
// CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS = True, HTCondor-CE's setting). Lines are latin1 strings
// of the file's bytes and keep their '\n', as HTCondor's readLine does.
//   - Leading blanks (space, tab, newline) are skipped; a field ends at a blank.
//   - A field that starts with '"' runs to the next unescaped '"'; in the principal, one that
//     starts with '/' is a regex running to the next unescaped '/', then any run of the flags
//     `i` (caseless) and `U` (ungreedy). Either runs to the end of the line when not closed.
//   - Inside them `\<end>` is the end character, `\\` one backslash, any other `\c` is kept.
//   - The next field starts right after a closing '"' or the flags, blank or not.

export interface Field {
  readonly text: string;
  /** Set when the field was `/regex/flags` (principal only). */
  readonly regex: { readonly caseless: boolean; readonly ungreedy: boolean } | null;
  /** Where the next field starts. */
  readonly next: number;
  /** The line ended in a backslash inside a quoted or regex field: HTCondor reads past the line's end. */
  readonly overrun: boolean;
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n';

/** The field at `offset`; `principal` lets a leading '/' open a regex. */
export function parseField(line: string, offset: number, principal: boolean): Field {
  let i = offset;
  while (i < line.length && isBlank(line[i])) i++;
  const open = line[i];
  const end = open === '"' || (principal && open === '/') ? open : null;
  if (end === null) {
    let text = '';
    while (i < line.length && !isBlank(line[i])) text += line[i++];
    return { text, regex: null, next: i, overrun: false };
  }
  i++;
  let text = '';
  let closed = false;
  while (i < line.length) {
    const c = line[i]!;
    if (c === end) {
      i++;
      closed = true;
      break;
    }
    if (c === '\\') {
      i++;
      if (i >= line.length) return { text, regex: null, next: i, overrun: true };
      const n = line[i]!;
      text += n === end || n === '\\' ? n : `\\${n}`;
    } else {
      text += c;
    }
    i++;
  }
  if (end !== '/') return { text, regex: null, next: i, overrun: false };
  let caseless = false;
  let ungreedy = false;
  while (closed && (line[i] === 'i' || line[i] === 'U')) {
    if (line[i] === 'i') caseless = true;
    else ungreedy = true;
    i++;
  }
  return { text, regex: { caseless, ungreedy }, next: i, overrun: false };
}

/** Lines as HTCondor reads them: each keeps its '\n' (the last may have none). */
export function mapfileLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.filter((l) => l !== '');
}

/**
 * `\0`..`\9` in the account replaced as MapFile::PerformSubstitution does: group N when the
 * match set fewer than… at least N+1 groups (PCRE2's count: up to the highest group that took
 * part), else the two characters are kept; any other `\c` is kept. Null for an account ending
 * in a lone backslash (HTCondor then reads past the end of the string).
 */
export function substitute(account: string, groups: readonly string[]): string | null {
  let out = '';
  for (let i = 0; i < account.length; i++) {
    if (account[i] === '\\') {
      i++;
      if (i >= account.length) return null;
      const d = account.charCodeAt(i) - 0x30;
      if (d >= 0 && d <= 9 && d < groups.length) {
        out += groups[d];
        continue;
      }
      out += '\\';
    }
    out += account[i];
  }
  return out;
}

/**
 * The user HTCondor takes from a canonical name (Authentication::split_canonical_name): the
 * first 255 bytes, then the part before the last '@'.
 */
export function userPart(canonical: string): string {
  const cut = canonical.slice(0, 255);
  const at = cut.lastIndexOf('@');
  return at < 0 ? cut : cut.slice(0, at);
}
