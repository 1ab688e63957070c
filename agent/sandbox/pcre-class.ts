// Escapes and bracket classes of a PCRE2 pattern (pcre.ts), read as PCRE2 10.4x does with
// HTCondor's options (8-bit, no UTF, default tables). What PCRE2 would refuse to compile is a
// PcreCompileError (HTCondor skips that mapfile line); what glidein cannot honour exactly is a
// PcreUnsupported (glidein refuses the file, naming the construct).
import { type ByteSet, emptySet, complement, addAll, foldCase, ESCAPE_SETS, POSIX_SETS } from './pcre-sets.ts';

/** PCRE2 would not compile the pattern: HTCondor logs it and skips the line. */
export class PcreCompileError extends Error {}
/** A construct glidein does not translate exactly: the mapfile is refused. */
export class PcreUnsupported extends Error {
  readonly construct: string;
  readonly offset: number;
  constructor(construct: string, offset: number, why: string) {
    super(`'${construct}' at offset ${offset} is not supported (${why})`);
    this.construct = construct;
    this.offset = offset;
  }
}

export type Escape =
  | { readonly kind: 'byte'; readonly byte: number; readonly next: number }
  | { readonly kind: 'set'; readonly set: ByteSet; readonly next: number }
  | { readonly kind: 'assert'; readonly name: string; readonly next: number }
  | { readonly kind: 'quote'; readonly next: number };

const SINGLE: Readonly<Record<string, number>> = { a: 0x07, e: 0x1b, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09 };
/** Letters PCRE2 10.4x does not recognise after `\` (error 103), and those it refuses outright (error 137). */
const UNRECOGNISED = new Set('ijmqyIJMOTYFLlUu');
const ASSERTIONS = new Set('bBAzZG');

function unsupported(p: string, start: number, end: number, why: string): never {
  throw new PcreUnsupported(p.slice(start, end), start, why);
}

function hexEscape(p: string, at: number): Escape {
  const braced = /^\{([0-9a-fA-F]{1,8})\}/.exec(p.slice(at));
  if (braced) {
    const v = parseInt(braced[1]!, 16);
    if (v > 0xff) throw new PcreCompileError(`\\x{${braced[1]}} is above 0xff in non-UTF mode`);
    return { kind: 'byte', byte: v, next: at + braced[0].length };
  }
  const plain = /^[0-9a-fA-F]{1,2}/.exec(p.slice(at));
  if (!plain) unsupported(p, at - 2, at + 1, '\\x without hex digits');
  return { kind: 'byte', byte: parseInt(plain[0], 16), next: at + plain[0].length };
}

/** The escape whose backslash is at `at - 1`; `inClass` for one inside `[…]`. */
export function readEscape(p: string, at: number, inClass: boolean): Escape {
  if (at >= p.length) throw new PcreCompileError('\\ at end of pattern');
  const c = p[at]!;
  const code = c.charCodeAt(0);
  if (!/[0-9A-Za-z]/.test(c)) return { kind: 'byte', byte: code, next: at + 1 };
  if (c in SINGLE) return { kind: 'byte', byte: SINGLE[c]!, next: at + 1 };
  if (c === 'x') return hexEscape(p, at + 1);
  if (c in ESCAPE_SETS) return { kind: 'set', set: ESCAPE_SETS[c]!, next: at + 1 };
  if (c === '0') {
    const oct = /^[0-7]{0,2}/.exec(p.slice(at + 1))![0];
    return { kind: 'byte', byte: parseInt(`0${oct}`, 8), next: at + 1 + oct.length };
  }
  if (inClass && c === 'b') return { kind: 'byte', byte: 0x08, next: at + 1 };
  if (!inClass && ASSERTIONS.has(c)) return { kind: 'assert', name: c, next: at + 1 };
  if (!inClass && c === 'Q') return { kind: 'quote', next: at + 1 };
  if (UNRECOGNISED.has(c)) throw new PcreCompileError(`unrecognised escape \\${c}`);
  return unsupported(p, at - 1, at + 1, /[1-9]/.test(c) ? 'back references and octal escapes' : 'escape not translated');
}

const POSIX = /^\[:(\^?)([a-z]+):\]/;

function posixItem(p: string, at: number, caseless: boolean): { set: ByteSet; next: number } {
  const m = POSIX.exec(p.slice(at));
  if (!m) return unsupported(p, at, at + 2, "'[:', '[.' or '[=' inside a class without a POSIX class name");
  let name = m[2]!;
  const base = POSIX_SETS[name];
  if (!base) throw new PcreCompileError(`unknown POSIX class name '${name}'`);
  // PCRE2 reads [:lower:] and [:upper:] as [:alpha:] when caseless, and folds no other POSIX class.
  if (caseless && (name === 'lower' || name === 'upper')) name = 'alpha';
  const set = POSIX_SETS[name]!;
  return { set: m[1] ? complement(set) : set, next: at + m[0].length };
}

/** The class whose `[` is at `at - 1`: the bytes it matches and where it ends. */
export function readClass(p: string, at: number, caseless: boolean): { set: ByteSet; next: number } {
  // `[:alpha:]` (or `[.x.]`, `[=x=]`) as the whole class: PCRE2 refuses it (POSIX classes go inside […]).
  const rest = p.slice(at);
  if (/^([:.=])[^\]]*\1\]/.test(rest)) throw new PcreCompileError('POSIX named classes are supported only within a class');
  if (/^([:.=]).*\1\]/.test(rest)) unsupported(p, at - 1, at + 1, "a class starting with '[:', '[.' or '[='");
  let i = at;
  const negate = p[i] === '^';
  if (negate) i++;
  const literal = emptySet();
  const sets = emptySet();
  let first = true;
  for (;;) {
    if (i >= p.length) throw new PcreCompileError('missing terminating ] for character class');
    const c = p[i]!;
    if (c === ']' && !first) break;
    first = false;
    if (c === '[' && /[:.=]/.test(p[i + 1] ?? '')) {
      const item = posixItem(p, i, caseless);
      addAll(sets, item.set);
      i = noRangeAfter(p, item.next);
      continue;
    }
    let lo: number;
    if (c === '\\') {
      const e = readEscape(p, i + 1, true);
      if (e.kind === 'set') {
        addAll(sets, e.set);
        i = noRangeAfter(p, e.next);
        continue;
      }
      if (e.kind !== 'byte') return unsupported(p, i, e.next, 'escape not translated inside a class');
      lo = e.byte;
      i = e.next;
    } else {
      lo = c.charCodeAt(0);
      i++;
    }
    if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
      const r = rangeEnd(p, i + 1);
      if (r.byte < lo) throw new PcreCompileError('range out of order in character class');
      for (let b = lo; b <= r.byte; b++) literal[b] = 1;
      i = noRangeAfter(p, r.next);
    } else {
      literal[lo] = 1;
    }
  }
  const set = caseless ? foldCase(literal) : literal;
  addAll(set, sets);
  return { set: negate ? complement(set) : set, next: i + 1 };
}

/** A '-' after a class escape, a POSIX class or a range, not closing the class, is read differently across PCRE2 versions. */
function noRangeAfter(p: string, at: number): number {
  if (p[at] === '-' && at + 1 < p.length && p[at + 1] !== ']') unsupported(p, at, at + 2, "a '-' after a class escape, a POSIX class or a range");
  return at;
}

function rangeEnd(p: string, at: number): { byte: number; next: number } {
  const c = p[at]!;
  if (c === '[' && /[:.=]/.test(p[at + 1] ?? '')) return unsupported(p, at - 1, at + 2, 'a POSIX class as the end of a range');
  if (c !== '\\') return { byte: c.charCodeAt(0), next: at + 1 };
  const e = readEscape(p, at + 1, true);
  if (e.kind !== 'byte') return unsupported(p, at - 1, e.next, 'a class escape as the end of a range');
  return { byte: e.byte, next: e.next };
}
