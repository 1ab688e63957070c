// PCRE2 pattern -> an equivalent JavaScript regex, for HTCondor mapfile lines (issue 24 part 3).
// HTCondor compiles `/…/` with pcre2_compile (8-bit, no UTF; options only CASELESS for `i` and
// UNGREEDY for `U`) and calls pcre2_match unanchored from offset 0. glidein translates the
// subset below exactly and matches it against the latin1 string of the subject's UTF-8 bytes,
// with no JavaScript flags (case folding, `.`, `$` and every class are spelled out):
//   literals and escaped punctuation, \t \n \r \f \e \a \xhh \x{hh} \0oo, \Q…\E,
//   . ^ $ \A \z \Z \G \b \B, \d \D \s \S \w \W, […] with ranges and [:posix:] classes,
//   * + ? {n} {n,} {n,m} and their lazy forms, | ( ) (?: ) (?= ) (?! ), (?i) (?-i) (?i: ).
// Anything else (back references, lookbehind, possessive or atomic forms, named groups, other
// inline options, \p, \h, \R …), a repeat of a group that holds a repeat (`(a+)+`) or whose
// alternatives can start alike (`(a|ab)+`), and a repeated group that can match empty (`(a*)*`),
// where backtracking can reach PCRE2's match limit, are PcreUnsupported: the caller refuses the mapfile, so no
// construct silently matches nothing or everything. What PCRE2 itself would not compile is a
// PcreCompileError, and HTCondor skips such a line.
import { DOT, jsByte, jsClass, emptySet, addAll, foldCase, type ByteSet } from './pcre-sets.ts';
import { PcreCompileError, PcreUnsupported, readClass, readEscape } from './pcre-class.ts';

export { PcreCompileError, PcreUnsupported } from './pcre-class.ts';

export interface TranslatedRegex {
  readonly regex: RegExp;
  /** Number of capture groups. */
  readonly groups: number;
  /** Groups inside a repeated part: PCRE2 keeps their last value, JavaScript resets them per iteration. */
  readonly repeatedGroups: ReadonlySet<number>;
}

interface Seq {
  js: string;
  nullable: boolean;
  repeats: boolean;
  first: ByteSet;
}

interface Atom {
  js: string;
  quantifiable: boolean;
  /** Can match the empty string. */
  nullable: boolean;
  group: boolean;
  /** Holds a quantifier that repeats (max > 1). */
  repeats: boolean;
  /** The bytes it can start with (assertions: none). */
  first: ByteSet;
  /** A group whose alternatives can start with the same byte. */
  overlap: boolean;
  firstGroup: number;
  lastGroup: number;
}

/** The one-byte sets, shared (never written to). */
const BYTES: readonly ByteSet[] = Array.from({ length: 256 }, (_, b) => {
  const set = emptySet();
  set[b] = 1;
  return set;
});
const FOLDED_BYTES: readonly ByteSet[] = BYTES.map(foldCase);
const NONE = emptySet();

const ASSERT_JS: Readonly<Record<string, string>> = { b: '\\b', B: '\\B', A: '^', G: '^', z: '$', Z: '(?=\\x0a?$)' };
const QUANTIFIER = /^(?:[*+?]|\{(\d+)(?:(,)(\d*))?\})/;
/** Brace forms PCRE2 10.43+ reads as quantifiers and 10.42 as literals. */
const AMBIGUOUS_BRACE = /^\{\s*\d*\s*(?:,\s*\d*\s*)?\}/;

class Translator {
  private i = 0;
  private groups = 0;
  private caseless: boolean;
  private readonly p: string;
  private readonly ungreedy: boolean;
  readonly repeated = new Set<number>();

  constructor(p: string, caseless: boolean, ungreedy: boolean) {
    this.p = p;
    this.caseless = caseless;
    this.ungreedy = ungreedy;
  }

  private unsupported(start: number, end: number, why: string): never {
    throw new PcreUnsupported(this.p.slice(start, end), start, why);
  }

  translate(): string {
    const { js } = this.alternation();
    if (this.i < this.p.length) throw new PcreCompileError(`unmatched closing parenthesis at offset ${this.i}`);
    return js;
  }

  get groupCount(): number {
    return this.groups;
  }

  private alternation(): Seq & { overlap: boolean } {
    const saved = this.caseless;
    let { js, nullable, repeats, first } = this.sequence();
    let overlap = false;
    while (this.p[this.i] === '|') {
      this.i++;
      const next = this.sequence();
      js += `|${next.js}`;
      overlap ||= nullable || next.nullable || next.first.some((v, b) => v === 1 && first[b] === 1);
      nullable ||= next.nullable;
      repeats ||= next.repeats;
      first = Uint8Array.from(first);
      addAll(first, next.first);
    }
    this.caseless = saved;
    return { js, nullable, repeats, first, overlap };
  }

  private sequence(): Seq {
    const atoms: Atom[] = [];
    let prev: Atom | null = null;
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const start = this.i;
      const q = this.quantifier();
      if (q !== null) {
        if (prev === null) {
          if (q.brace) this.unsupported(start, this.i, 'a {} quantifier with nothing before it');
          throw new PcreCompileError(`quantifier does not follow a repeatable item at offset ${start}`);
        }
        if (!prev.quantifiable) this.unsupported(start, this.i, 'a quantifier after an assertion, an option setting or another quantifier');
        if (q.max > 1) for (let g = prev.firstGroup; g <= prev.lastGroup; g++) this.repeated.add(g);
        // HTCondor's pcre2_match gives up after 10,000,000 steps (PCRE2's default match limit)
        // and takes that as no match; glidein's engine has no such limit. Nested repeats and
        // repeated groups that can match empty are where backtracking can take that long.
        if (prev.group && prev.nullable) this.unsupported(start, this.i, 'a repeated group that can match the empty string');
        if (prev.group && prev.repeats && q.max > 1) this.unsupported(start, this.i, 'a repeat of a group that holds a repeat');
        if (prev.group && prev.overlap && q.max > 1) this.unsupported(start, this.i, 'a repeat of a group whose alternatives can start with the same byte');
        prev.repeats ||= q.max > 1;
        prev.js = `${prev.js}${q.js}`;
        prev.quantifiable = false;
        prev.nullable ||= q.min === 0;
        continue;
      }
      const read = this.atom();
      atoms.push(...read);
      prev = read.length > 0 ? read[read.length - 1]! : this.assertion('');
    }
    let first = atoms[0]?.nullable === false ? atoms[0].first : null;
    if (first === null) {
      first = emptySet();
      for (const a of atoms) {
        addAll(first, a.first);
        if (!a.nullable) break;
      }
    }
    return { js: atoms.map((a) => a.js).join(''), nullable: atoms.every((a) => a.nullable), repeats: atoms.some((a) => a.repeats), first };
  }

  /** A quantifier at the cursor (consumed), or null. */
  private quantifier(): { js: string; min: number; max: number; brace: boolean } | null {
    const c = this.p[this.i];
    if (c !== '*' && c !== '+' && c !== '?' && c !== '{') return null;
    const rest = this.p.slice(this.i);
    const m = QUANTIFIER.exec(rest);
    if (!m) {
      if (AMBIGUOUS_BRACE.test(rest)) this.unsupported(this.i, this.i + AMBIGUOUS_BRACE.exec(rest)![0].length, 'a {} form PCRE2 versions read differently');
      return null;
    }
    const start = this.i;
    this.i += m[0].length;
    let js = m[0];
    let min = m[0] === '+' ? 1 : 0;
    let max = Infinity;
    if (m[1] !== undefined) {
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > 65535 || (max !== Infinity && max > 65535)) throw new PcreCompileError('number too big in {} quantifier');
      if (min > max) throw new PcreCompileError('numbers out of order in {} quantifier');
    } else if (m[0] === '?') max = 1;
    let lazy = this.ungreedy;
    if (this.p[this.i] === '?') {
      lazy = !lazy;
      this.i++;
    } else if (this.p[this.i] === '+') {
      this.unsupported(start, this.i + 1, 'possessive quantifiers');
    }
    if (lazy) js += '?';
    return { js, min, max, brace: m[1] !== undefined };
  }

  private plain(js: string, first: ByteSet): Atom {
    return { js, quantifiable: true, nullable: false, group: false, repeats: false, first, overlap: false, firstGroup: 1, lastGroup: 0 };
  }

  private byte(b: number): Atom {
    return this.plain(jsByte(b, this.caseless), (this.caseless ? FOLDED_BYTES : BYTES)[b]!);
  }

  private assertion(js: string): Atom {
    return { js, quantifiable: false, nullable: true, group: false, repeats: false, first: NONE, overlap: false, firstGroup: 1, lastGroup: 0 };
  }

  /** The atoms at the cursor: one, none (an option setting) or several (\Q…\E). */
  private atom(): Atom[] {
    const c = this.p[this.i]!;
    this.i++;
    switch (c) {
      case '(':
        return this.group();
      case '[': {
        const cls = readClass(this.p, this.i, this.caseless);
        this.i = cls.next;
        return [this.plain(jsClass(cls.set), cls.set)];
      }
      case '.':
        return [this.plain(jsClass(DOT), DOT)];
      case '^':
        return [this.assertion('^')];
      case '$':
        return [this.assertion('(?=\\x0a?$)')];
      case '\\':
        return this.escape();
      default:
        return [this.byte(c.charCodeAt(0))];
    }
  }

  private escape(): Atom[] {
    const start = this.i - 1;
    const e = readEscape(this.p, this.i, false);
    this.i = e.next;
    switch (e.kind) {
      case 'byte':
        return [this.byte(e.byte)];
      case 'set':
        return [this.plain(jsClass(e.set), e.set)];
      case 'assert':
        return [this.assertion(ASSERT_JS[e.name]!)];
      case 'quote': {
        const end = this.p.indexOf('\\E', this.i);
        const text = end < 0 ? this.p.slice(this.i) : this.p.slice(this.i, end);
        this.i = end < 0 ? this.p.length : end + 2;
        if (text === '') this.unsupported(start, this.i, 'an empty \\Q\\E');
        return [...text].map((ch) => this.byte(ch.charCodeAt(0)));
      }
    }
  }

  private group(): Atom[] {
    const start = this.i - 1;
    let open = '(';
    let capture = false;
    let quantifiable = true;
    const savedCase = this.caseless;
    if (this.p[this.i] !== '?') {
      capture = true;
    } else {
      const rest = this.p.slice(this.i);
      const opt = /^\?(-?)i([:)])/.exec(rest);
      if (rest.startsWith('?:')) {
        open = '(?:';
        this.i += 2;
      } else if (rest.startsWith('?=') || rest.startsWith('?!')) {
        open = `(${rest.slice(0, 2)}`;
        this.i += 2;
        quantifiable = false;
      } else if (opt) {
        this.i += opt[0].length;
        this.caseless = opt[1] !== '-';
        if (opt[2] === ')') return []; // the rest of the enclosing group; alternation() restores it
        open = '(?:';
      } else {
        this.unsupported(start, Math.min(this.p.length, this.i + 3), 'group kind not translated (lookbehind, named, atomic, options other than i …)');
      }
    }
    const firstGroup = this.groups + 1;
    if (capture) this.groups++;
    const inner = this.alternation();
    this.caseless = savedCase;
    if (this.p[this.i] !== ')') throw new PcreCompileError(`missing closing parenthesis for the group at offset ${start}`);
    this.i++;
    return [{ js: `${open}${inner.js})`, quantifiable, nullable: inner.nullable || !quantifiable, group: true, repeats: inner.repeats, first: quantifiable ? inner.first : NONE, overlap: inner.overlap, firstGroup, lastGroup: this.groups }];
  }
}

/** Translate a PCRE2 pattern; throws PcreCompileError or PcreUnsupported. */
export function translatePcre(pattern: string, opts: { caseless: boolean; ungreedy: boolean }): TranslatedRegex {
  if (pattern.startsWith('(*')) throw new PcreUnsupported(pattern.slice(0, 2), 0, 'leading (*VERB) settings');
  const t = new Translator(pattern, opts.caseless, opts.ungreedy);
  const js = t.translate();
  let regex: RegExp;
  try {
    regex = new RegExp(js);
  } catch (cause) {
    throw new PcreUnsupported(pattern, 0, `its translation did not compile: ${(cause as Error).message}`);
  }
  return { regex, groups: t.groupCount, repeatedGroups: t.repeated };
}

/** The subject HTCondor matches: the UTF-8 bytes of `text`, one latin1 character each. */
export function pcreSubject(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
