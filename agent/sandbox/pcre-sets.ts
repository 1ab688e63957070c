// Byte sets for the PCRE2 translation (pcre.ts). HTCondor compiles mapfile regexes with PCRE2 in
// 8-bit mode without PCRE2_UTF and with its default character tables (made in the C locale), so
// a pattern and a subject are bytes, `\d \s \w` and the POSIX classes are ASCII-only, and
// caseless matching folds only A-Z/a-z. glidein matches a latin1 string of the subject's UTF-8
// bytes against a JavaScript regex (no flags) in which every class is spelled out byte by byte.

/** 256 entries, 1 where the byte is in the set. */
export type ByteSet = Uint8Array;

export function emptySet(): ByteSet {
  return new Uint8Array(256);
}

function setOf(ranges: ReadonlyArray<readonly [number, number]>): ByteSet {
  const s = emptySet();
  for (const [lo, hi] of ranges) for (let b = lo; b <= hi; b++) s[b] = 1;
  return s;
}

export function complement(s: ByteSet): ByteSet {
  return s.map((v) => 1 - v);
}

export function addAll(into: ByteSet, from: ByteSet): void {
  for (let b = 0; b < 256; b++) if (from[b]) into[b] = 1;
}

/** Add the other case of every ASCII letter in `s` (PCRE2_CASELESS with the C-locale tables). */
export function foldCase(s: ByteSet): ByteSet {
  const out = Uint8Array.from(s);
  for (let b = 0x41; b <= 0x5a; b++) {
    if (s[b] || s[b + 0x20]) out[b] = out[b + 0x20] = 1;
  }
  return out;
}

const DIGIT = setOf([[0x30, 0x39]]);
const SPACE = setOf([[0x09, 0x0d], [0x20, 0x20]]);
const WORD = setOf([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
const ALPHA = setOf([[0x41, 0x5a], [0x61, 0x7a]]);
const GRAPH = setOf([[0x21, 0x7e]]);
const ALNUM = setOf([[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]]);

/** `\d \D \s \S \w \W` (PCRE2's default tables; `\s` includes VT since PCRE2 10.0). */
export const ESCAPE_SETS: Readonly<Record<string, ByteSet>> = {
  d: DIGIT,
  D: complement(DIGIT),
  s: SPACE,
  S: complement(SPACE),
  w: WORD,
  W: complement(WORD),
};

/** `[:name:]` inside a class. */
export const POSIX_SETS: Readonly<Record<string, ByteSet>> = {
  alpha: ALPHA,
  lower: setOf([[0x61, 0x7a]]),
  upper: setOf([[0x41, 0x5a]]),
  alnum: ALNUM,
  ascii: setOf([[0x00, 0x7f]]),
  blank: setOf([[0x09, 0x09], [0x20, 0x20]]),
  cntrl: setOf([[0x00, 0x1f], [0x7f, 0x7f]]),
  digit: DIGIT,
  graph: GRAPH,
  print: setOf([[0x20, 0x7e]]),
  punct: GRAPH.map((v, b) => (v && !ALNUM[b] ? 1 : 0)),
  space: SPACE,
  word: WORD,
  xdigit: setOf([[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]]),
};

/** Every byte except LF: `.` with PCRE2's default newline (LF) and without DOTALL. */
export const DOT = complement(setOf([[0x0a, 0x0a]]));

const hex = (b: number): string => `\\x${b.toString(16).padStart(2, '0')}`;

/** A JavaScript (non-unicode) class matching exactly the bytes of `s`. */
export function jsClass(s: ByteSet): string {
  let out = '';
  let b = 0;
  while (b < 256) {
    if (!s[b]) {
      b++;
      continue;
    }
    let e = b;
    while (e + 1 < 256 && s[e + 1]) e++;
    out += e === b ? hex(b) : `${hex(b)}-${hex(e)}`;
    b = e + 1;
  }
  return out === '' ? '[^\\x00-\\xff]' : `[${out}]`;
}

/** One byte as a JavaScript atom, both cases when caseless. */
export function jsByte(b: number, caseless: boolean): string {
  if (caseless && ALPHA[b]) return `[${String.fromCharCode(b & ~0x20)}${String.fromCharCode(b | 0x20)}]`;
  return ALNUM[b] ? String.fromCharCode(b) : hex(b);
}
