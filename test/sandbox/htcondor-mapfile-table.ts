// Mapfile lines x identities, with the answers of HTCondor's own MapFile (issue 24 part 3).
// Written by us; HTCondor's answers were measured with scripts/interop/htcondor-mapfile.mjs
// (see MEASURED), which runs `condor_status -ads:json` and the ClassAd function
// `userMap("t.SCITOKENS", "iss,sub")` with TOOL_CLASSAD_USER_MAP_NAMES = t and
// CLASSAD_USER_MAPFILE_t = the mapfile: MapFile::ParseCanonicalizationFile with assume_hash =
// true, the reading HTCondor-CE asks for with CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS = True.
// An answer is HTCondor's canonical name (before split_canonical_name takes the part before the
// last '@'), or null where userMap was undefined (no line matched).

export const MEASURED = {
  date: '2026-12-07',
  htcondor: '25.14.0 (2026-12-07 PRE-RELEASE-UWCS, built from source; system PCRE2 10.42)',
  how: 'scripts/interop/htcondor-mapfile.mjs /opt/htc/inst (condor_status -ads:json, userMap)',
} as const;

export interface TableRow {
  readonly name: string;
  /** The mapfile's exact text. */
  readonly mapfile: string;
  /** Other files, by path relative to the mapfile's directory (for @include). */
  readonly files?: Readonly<Record<string, string>>;
  /** iss, sub, HTCondor's answer. */
  readonly cases: ReadonlyArray<readonly [string, string, string | null]>;
  /** Where glidein deliberately answers otherwise: what it does instead, and why. */
  readonly glidein?: { readonly refuses: string } | { readonly answers: ReadonlyArray<string | null>; readonly why: string };
  /** Part of what HTCondor logged (D_ALWAYS), where it logged a skipped line. */
  readonly logged?: string;
}

const ISS = 'https://iss.example';
/** Mapfile text from lines, each ending in '\n'. */
const L = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');
const R = String.raw;
/** `^https:\/\/iss\.example,` in a mapfile regex. */
const P = R`^https:\/\/iss\.example,`;

export const TABLE: readonly TableRow[] = [
  // Security: lines glidein read differently and mapped someone HTCondor does not, or elsewhere.
  { name: 'an empty regex maps no one', mapfile: L('SCITOKENS // everyone', R`SCITOKENS /${P}bob$/ bob`), cases: [[ISS, 'alice', null], [ISS, 'bob', 'bob']], logged: 'Error parsing line 1' },
  { name: 'method names ignore case', mapfile: L(R`scitokens /${P}alice$/ alice`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'alice'], [ISS, 'bob', 'catchall']] },
  { name: 'a quoted method', mapfile: L(R`"SCITOKENS" /${P}alice$/ alice`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'alice']] },
  { name: 'GSI and unknown methods are never a token\'s', mapfile: L('GSI /.*/ gsiuser', 'SCITOKEN /.*/ typo', R`SCITOKENS /${P}bob$/ bob`), cases: [[ISS, 'alice', null], [ISS, 'bob', 'bob']] },
  { name: '@include of a file, in place', mapfile: L('@include extra.map', 'SCITOKENS /.*/ catchall'), files: { 'extra.map': L(R`SCITOKENS /${P}alice$/ alice`) }, cases: [[ISS, 'alice', 'alice'], [ISS, 'bob', 'catchall']] },
  {
    name: '@include of a directory: its files by name, dotfiles and *.sh, *~ … left out',
    mapfile: L('@include map.d', 'SCITOKENS /.*/ catchall'),
    files: { 'map.d/b.map': L(R`SCITOKENS /${P}alice$/ from_b`), 'map.d/a.map': L(R`SCITOKENS /${P}bob$/ from_a`, R`SCITOKENS /${P}alice$/ from_a`), 'map.d/.hidden': L('SCITOKENS /.*/ hidden'), 'map.d/0.sh': L('SCITOKENS /.*/ script'), 'map.d/0.map~': L('SCITOKENS /.*/ backup'), 'map.d/sub/0.map': L('SCITOKENS /.*/ subdir') },
    cases: [[ISS, 'alice', 'from_a'], [ISS, 'bob', 'from_a'], [ISS, 'carol', 'catchall']],
  },
  { name: 'an included file cannot @include', mapfile: L('@include extra.map', 'SCITOKENS /.*/ catchall'), files: { 'extra.map': L('@include more.map', R`SCITOKENS /${P}bob$/ bob`), 'more.map': L('SCITOKENS /.*/ nested') }, cases: [[ISS, 'alice', 'catchall'], [ISS, 'bob', 'bob']], logged: '@include directive not allowed' },
  { name: 'a missing @include is skipped', mapfile: L('@include missing.map', R`SCITOKENS /${P}bob$/ bob`), cases: [[ISS, 'alice', null], [ISS, 'bob', 'bob']], logged: 'Could not open canonicalization file' },
  { name: '\\\\ in a regex is one backslash', mapfile: L(R`SCITOKENS /${P}a\\.b$/ dot`), cases: [[ISS, 'a.b', 'dot'], [ISS, 'aXb', null], [ISS, R`a\Xb`, null]] },
  { name: 'a regex ending in \\ (from \\\\/) does not compile', mapfile: L(R`SCITOKENS /${P}alice\\/ acct`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice\\', 'catchall'], [ISS, 'alice', 'catchall']], logged: 'Error compiling expression' },
  { name: '[[:alpha:]]', mapfile: L(R`SCITOKENS /${P}[[:alpha:]]+$/ alpha`), cases: [[ISS, 'alice', 'alpha'], [ISS, 'a]', null], [ISS, 'al1', null], [ISS, ':', null]] },
  { name: '\\A and \\z', mapfile: L(R`SCITOKENS /\Ahttps:\/\/iss\.example,alice\z/ alice`), cases: [[ISS, 'alice', 'alice'], [ISS, 'alice\n', null], ['Ahttps://iss.example', 'alicez', null]] },
  { name: '$ also matches before a final newline', mapfile: L(R`SCITOKENS /${P}alice$/ alice`), cases: [[ISS, 'alice', 'alice'], [ISS, 'alice\n', 'alice'], [ISS, 'alice\n\n', null]] },
  { name: '. matches CR but not LF', mapfile: L(R`SCITOKENS /${P}a.b$/ dot`), cases: [[ISS, 'a\rb', 'dot'], [ISS, 'a\nb', null]] },
  { name: '. is one byte (no UTF)', mapfile: L(R`SCITOKENS /${P}.$/ one`, R`SCITOKENS /${P}..$/ two`), cases: [[ISS, 'e', 'one'], [ISS, 'é', 'two']] },
  { name: '\\s is ASCII blanks only', mapfile: L(R`SCITOKENS /${P}a\s+b$/ space`), cases: [[ISS, 'a b', 'space'], [ISS, 'a\tb', 'space'], [ISS, 'a\u00a0b', null]] },
  { name: '\\d and \\w are ASCII', mapfile: L(R`SCITOKENS /${P}\w+\d$/ word`), cases: [[ISS, 'user_1', 'word'], [ISS, 'usér1', null], [ISS, 'user١', null]] },
  { name: 'a leading (?i)', mapfile: L(R`SCITOKENS /(?i)${P}ALICE$/ alice`), cases: [[ISS, 'alice', 'alice'], ['HTTPS://ISS.EXAMPLE', 'Alice', 'alice']] },
  { name: '(?i) carries into later alternatives of its group', mapfile: L(R`SCITOKENS /${P}(a(?i)b|c)$/ ok`), cases: [[ISS, 'aB', 'ok'], [ISS, 'AB', null], [ISS, 'C', 'ok']] },
  { name: '(?-i) inside /i', mapfile: L(R`SCITOKENS /${P}(?-i)alice$/i ok`), cases: [['HTTPS://ISS.EXAMPLE', 'alice', 'ok'], [ISS, 'ALICE', null]] },
  { name: '/i', mapfile: L(R`SCITOKENS /^https:\/\/ISS\.example,alice$/i alice`), cases: [[ISS, 'ALICE', 'alice'], ['https://iss.example.org', 'alice', null]] },
  { name: 'caseless [^a] excludes A', mapfile: L(R`SCITOKENS /${P}[^a]lice$/i ok`), cases: [[ISS, 'Alice', null], [ISS, 'blice', 'ok']] },
  { name: 'caseless [:upper:] is [:alpha:], [:^lower:] is [:^alpha:]', mapfile: L(R`SCITOKENS /${P}[[:upper:]]lice$/i up`, R`SCITOKENS /${P}[[:^lower:]]ob$/i notlow`), cases: [[ISS, 'alice', 'up'], [ISS, 'Bob', null], [ISS, '1ob', 'notlow']] },
  { name: '\\1 substitution', mapfile: L(R`SCITOKENS /${P}(alice|bob)$/ user_\1`), cases: [[ISS, 'alice', 'user_alice'], [ISS, 'bob', 'user_bob'], [ISS, 'carol', null]] },
  { name: '/U makes quantifiers lazy (seen through \\1)', mapfile: L(R`SCITOKENS /${P}(.+)(.*)$/U u_\1`, R`SCITOKENS /${P}(.+)(.*)$/ g_\1`), cases: [[ISS, 'alice', 'u_a']] },
  { name: '*? lazy, and ? after a lazy one under /U greedy', mapfile: L(R`SCITOKENS /${P}(a+?)/ lazy_\1`, R`SCITOKENS /${P}(b+?)/U greedy_\1`), cases: [[ISS, 'aaa', 'lazy_a'], [ISS, 'bbb', 'greedy_bbb']] },
  { name: '\\N of an unset last group stays as written', mapfile: L(R`SCITOKENS /${P}(alice)$|,(bob)$/ x\2y`), cases: [[ISS, 'alice', R`x\2y`], [ISS, 'bob', 'xboby']] },
  { name: '\\0 is the whole match; for a literal, the principal', mapfile: L(R`SCITOKENS "https://iss.example,Bob" \0_\1`, R`SCITOKENS /[a-z]+$/ \0`), cases: [[ISS, 'alice', 'alice'], [ISS, 'Bob', R`https://iss.example,Bob_\1`]] },
  { name: 'an unquoted literal principal', mapfile: L(R`SCITOKENS https://iss.example,alice lit`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'lit'], [ISS, 'alicex', 'catchall'], [ISS, 'ALICE', 'catchall']] },
  { name: 'a quoted literal with a blank', mapfile: L(R`SCITOKENS "https://iss.example,alice smith" quoted`), cases: [[ISS, 'alice smith', 'quoted'], [ISS, 'alice', null]] },
  { name: 'escapes in a quoted literal', mapfile: L(R`SCITOKENS "https://iss.example,a\"b" quote`, R`SCITOKENS "https://iss.example,a\\b" backslash`, R`SCITOKENS "https://iss.example,a\xb" kept`), cases: [[ISS, 'a"b', 'quote'], [ISS, R`a\b`, 'backslash'], [ISS, R`a\xb`, 'kept'], [ISS, 'axb', null]] },
  { name: 'a literal is not a regex', mapfile: L(R`SCITOKENS https://iss.example,.* lit`), cases: [[ISS, 'alice', null], [ISS, '.*', 'lit']] },
  { name: 'first match in file order, literal or regex', mapfile: L(R`SCITOKENS /alice/ re`, 'SCITOKENS https://iss.example,alice lit', 'SCITOKENS https://iss.example,bob first', 'SCITOKENS https://iss.example,bob second'), cases: [[ISS, 'alice', 're'], [ISS, 'bob', 'first']] },
  { name: 'a non-ASCII literal', mapfile: L('SCITOKENS "https://iss.example,josé" jose'), cases: [[ISS, 'josé', 'jose'], [ISS, 'jose', null]] },
  { name: 'regexes are unanchored', mapfile: L('SCITOKENS /alice/ contains'), cases: [[ISS, 'malice', 'contains'], ['https://alice.example', 'x', 'contains'], [ISS, 'bob', null]] },
  { name: 'a trailing comment is ignored', mapfile: L(R`SCITOKENS /${P}alice$/ alice # the alice line`), cases: [[ISS, 'alice', 'alice']] },
  { name: 'text after the account is ignored', mapfile: L(R`SCITOKENS /${P}alice$/ alice bob`), cases: [[ISS, 'alice', 'alice']] },
  { name: 'the account starts right after the flags', mapfile: L(R`SCITOKENS /${P}alice$/iacct`, R`SCITOKENS /${P}bob$/g acct`), cases: [[ISS, 'alice', 'acct'], [ISS, 'bob', 'g']] },
  { name: 'a second slash after the flags starts the account', mapfile: L(R`SCITOKENS /${P}alice$/i/ acct`), cases: [[ISS, 'alice', '/']] },
  { name: '\\" and other escapes stay escapes in a regex', mapfile: L(R`SCITOKENS /${P}a\"b\.c$/ esc`), cases: [[ISS, 'a"b.c', 'esc'], [ISS, 'a"bXc', null], [ISS, R`a\"b.c`, null]] },
  { name: 'tabs, leading blanks, comments and blank lines', mapfile: L('# SCITOKENS /.*/ commented', '   # indented comment', '"#quoted" /.*/ comment', '', '   ', R`  SCITOKENS	/${P}alice$/	alice`), cases: [[ISS, 'alice', 'alice'], [ISS, 'bob', null]] },
  { name: 'the canonical name keeps every @', mapfile: L(R`SCITOKENS /${P}alice$/ alice@users.htcondor.org`, R`SCITOKENS /${P}bob$/ bob@x@y`), cases: [[ISS, 'alice', 'alice@users.htcondor.org'], [ISS, 'bob', 'bob@x@y']] },
  {
    name: 'CRLF: HTCondor keeps the CR in the account',
    mapfile: `SCITOKENS /${P}alice$/ alice\r\nSCITOKENS /.*/ catchall\r\n`,
    cases: [[ISS, 'alice', 'alice\r'], [ISS, 'bob', 'catchall\r']],
    glidein: { answers: ['alice', 'catchall'], why: 'glidein strips the CR of a CRLF line ending (issue 24 allows it); HTCondor would hold the job (no account "alice\\r")' },
  },
  { name: 'lines missing a field are skipped', mapfile: L(R`SCITOKENS /${P}alice$/`, 'SCITOKENS', R`SCITOKENS /${P}alice$/ ""`, 'SCITOKENS "" empty', 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'catchall']], logged: 'Error parsing line 1' },
  { name: 'an unterminated regex runs to the end of the line', mapfile: L(R`SCITOKENS /${P}alice acct`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'catchall']] },
  { name: 'an unterminated quoted account keeps the newline', mapfile: L(R`SCITOKENS /${P}alice$/ "acct`, 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'acct\n'], [ISS, 'bob', 'catchall']] },
  { name: 'an unterminated quoted account on a last line without newline', mapfile: R`SCITOKENS /${P}alice$/ "acct`, cases: [[ISS, 'alice', 'acct']] },
  { name: 'a regex with a blank and an escaped slash', mapfile: L(R`SCITOKENS /${P}a\/b c$/ ok`), cases: [[ISS, 'a/b c', 'ok']] },
  { name: '\\x hex and \\Q…\\E', mapfile: L(R`SCITOKENS /${P}\x61lice$/ hex`, R`SCITOKENS /\Qiss.example,a.b\E$/ quoted`), cases: [[ISS, 'alice', 'hex'], [ISS, 'a.b', 'quoted'], [ISS, 'aXb', null]] },
  { name: 'class edge cases: ] first, - last', mapfile: L(R`SCITOKENS /${P}[]a-]+$/ cls`), cases: [[ISS, ']-a', 'cls'], [ISS, 'b', null]] },
  { name: 'bounded repeats', mapfile: L(R`SCITOKENS /${P}a{2,3}$/ two3`, R`SCITOKENS /${P}b{2}$/ two`, R`SCITOKENS /${P}c{2,}$/ many`, R`SCITOKENS /${P}d{x}$/ literal`), cases: [[ISS, 'aaa', 'two3'], [ISS, 'aaaa', null], [ISS, 'bb', 'two'], [ISS, 'cccc', 'many'], [ISS, 'd{x}', 'literal']] },
  { name: 'lookahead', mapfile: L(R`SCITOKENS /${P}(?!root$)([a-z]+)$/ \1`), cases: [[ISS, 'alice', 'alice'], [ISS, 'root', null]] },
  { name: 'a POSIX class outside […] does not compile', mapfile: L('SCITOKENS /[:alpha:]/ posix', 'SCITOKENS /.*/ catchall'), cases: [[ISS, 'alice', 'catchall']] },
  // PCRE2 compile errors skip the line; each identity would match a lenient reading of the regex.
  ...([
    [R`\i`, ['i', 'alice']],
    [R`\u0041`, ['A', 'u0041']],
    ['*abc', ['abc', '*abc']],
    ['[z-a]', ['a', 'z', '-']],
    ['a{2,1}', ['aa', 'a{2,1}']],
    ['[[:foo:]]', ['f]', 'o]']],
    ['(abc', ['abc', '(abc']],
    ['abc)', ['abc', 'abc)']],
    ['[abc', ['a', '[abc']],
    ['x{99999}', ['x', 'x{99999}']],
  ] as const).map(([re, subs]): TableRow => ({ name: `a PCRE2 compile error skips the line: /${re}/`, mapfile: L(`SCITOKENS /${re}/ compiled`, 'SCITOKENS /.*/ catchall'), cases: subs.map((sub) => [ISS, sub, 'catchall'] as const), logged: 'Error compiling expression' })),
  // Constructs glidein does not translate: it refuses the file (HTCondor's answer kept for the record).
  { name: 'a back reference', mapfile: L(R`SCITOKENS /${P}(a)\1$/ double`), cases: [[ISS, 'aa', 'double']], glidein: { refuses: 'back references' } },
  { name: 'a lookbehind', mapfile: L(R`SCITOKENS /(?<=,)alice$/ alice`), cases: [[ISS, 'alice', 'alice']], glidein: { refuses: 'group kind not translated' } },
  { name: '{,n} (read differently across PCRE2 versions)', mapfile: L(R`SCITOKENS /${P}a{,2}$/ x`), cases: [[ISS, 'a{,2}', 'x'], [ISS, 'aa', null]], glidein: { refuses: 'PCRE2 versions read differently' } },
  { name: 'nested repeats (PCRE2 stops at its match limit, glidein has none)', mapfile: L(R`SCITOKENS /${P}(a+)+$/ nested`), cases: [[ISS, 'aaaa', 'nested'], [ISS, `${'a'.repeat(40)}!`, null]], glidein: { refuses: 'a repeat of a group that holds a repeat' } },
  { name: 'a repeated group that can match empty', mapfile: L(R`SCITOKENS /${P}(a*)*$/ empty`), cases: [[ISS, 'aa', 'empty'], [ISS, 'b', null]], glidein: { refuses: 'a repeated group that can match the empty string' } },
  { name: 'a possessive quantifier', mapfile: L(R`SCITOKENS /${P}a++$/ x`), cases: [[ISS, 'aa', 'x']], glidein: { refuses: 'possessive' } },
];
