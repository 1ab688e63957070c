#!/usr/bin/env node
// Differential check of glidein's PCRE2 translation (agent/sandbox/pcre.ts) against the real
// PCRE2 library, with the options HTCondor's MapFile uses. Needs gcc and libpcre2-dev:
//   npx node scripts/interop/pcre2-diff.mjs [PATTERNS] [SEED]
// It builds scripts/interop/pcre2-oracle.c (our own few lines calling pcre2_compile and
// pcre2_match), makes PATTERNS random patterns from the constructs below and 8 random subjects
// each, and compares: compiles or not (a pattern glidein translates must compile in PCRE2, and
// one glidein calls a compile error must not), match or not, and the span of every group
// where glidein substitutes them: not where a group is inside a repeated part, for then glidein
// refuses `\N` in the account). A match error (PCRE2's match limit) counts as no match, as in
// HTCondor. Patterns glidein
// refuses as unsupported are counted, not compared. Exits 1 on any difference.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { translatePcre, PcreCompileError, PcreUnsupported } from '../../agent/sandbox/pcre.ts';

const count = Number(process.argv[2] ?? 5000);
let seed = Number(process.argv[3] ?? 1);
/** mulberry32: reproducible for a seed. */
const rand = (n) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};
const pick = (a) => a[rand(a.length)];

const TOKENS = ['a', 'b', 'A', 'B', 'z', '.', '^', '$', '|', '(', ')', '(?:', '(?=', '(?!', '(?i)', '(?-i)', '(?i:', '*', '+', '?', '*?', '+?', '??', '{2}', '{1,2}', '{2,}', '{,2}', '{x}', '[', ']', '[^', '-', '\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\b', '\\B', '\\A', '\\z', '\\Z', '\\G', '\\.', '\\\\', '\\x41', '\\x{62}', '\\0', '\\Q', '\\E', '[:alpha:]', '[:upper:]', '[:^lower:]', '\\n', '\\r', '\\t', ' ', ',', '\\1', '\\i', '\\e', '\\xe9', '\xe9', '\\-', '\\]', '*+', '\\$', '\\^'];
const SUBJECT = ['a', 'b', 'A', 'B', 'z', 'Z', '\n', '\r', ' ', ',', '-', '.', '\xe9', '1', '_', ':', ']', '\\', '$', '\t'];

const ATOMS = ['a', 'b', 'A', 'z', '.', ',', '\\d', '\\w', '\\s', '\\W', '[ab]', '[^a]', '[a-z]', '[[:alpha:]]', '[[:upper:]_]', '[[:^lower:]]', '\\.', '\\xe9', '\xe9', '\\Qa.\\E', '[\\d,]', '\r', '\\n'];
const ASSERTS = ['^', '$', '\\b', '\\B', '\\A', '\\z', '\\Z'];
const QUANTS = ['', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{1,3}', '{0,}', '{2,}?'];
/** A pattern that is mostly well formed: alternations of quantified atoms and groups. */
function wellFormed(depth) {
  const alts = [];
  const nAlt = 1 + rand(depth === 0 ? 2 : 3);
  for (let a = 0; a < nAlt; a++) {
    let seq = '';
    const nAtom = rand(4) + (depth === 0 ? 1 : 0);
    for (let k = 0; k < nAtom; k++) {
      const r = rand(10);
      if (r < 2 && depth < 3) seq += `${pick(['(', '(?:', '(?i:', '(?=', '(?!'])}${wellFormed(depth + 1)})${pick(QUANTS)}`;
      else if (r < 3) seq += pick(ASSERTS);
      else if (r < 4) seq += pick(['(?i)', '(?-i)', '']);
      else seq += `${pick(ATOMS)}${pick(QUANTS)}`;
    }
    alts.push(seq);
  }
  return alts.join('|');
}

const hex = (s) => (s === '' ? '-' : Buffer.from(s, 'latin1').toString('hex'));

const dir = mkdtempSync(join(tmpdir(), 'pcre2-oracle-'));
try {
  const oracle = join(dir, 'oracle');
  execFileSync('gcc', ['-O2', '-o', oracle, new URL('./pcre2-oracle.c', import.meta.url).pathname, '-lpcre2-8']);
  const cases = [];
  for (let n = 0; n < count; n++) {
    let p = '';
    if (n % 2 === 0) p = wellFormed(0);
    else for (let k = 1 + rand(8); k > 0; k--) p += pick(TOKENS);
    const flags = pick(['-', '-', 'i', 'U', 'iU']);
    for (let k = 0; k < 8; k++) {
      let s = '';
      const sl = rand(7);
      for (let j = 0; j < sl; j++) s += pick(SUBJECT);
      cases.push({ p, flags, s });
    }
  }
  const input = cases.map((c) => `${hex(c.p)} ${c.flags} ${hex(c.s)}\n`).join('');
  const out = spawnSync(oracle, [], { input, encoding: 'latin1', maxBuffer: 1 << 28 }).stdout.split('\n');
  const stats = { patterns: 0, unsupported: 0, compileErrors: 0, translated: 0, subjects: 0, matched: 0, differ: 0 };
  const seen = new Map();
  const differ = (c, what) => {
    stats.differ++;
    if (stats.differ <= 20) console.log(`DIFFERS ${JSON.stringify(c.p)} /${c.flags}/ on ${JSON.stringify(c.s)}: ${what}`);
  };
  cases.forEach((c, i) => {
    const pcre = out[i];
    let t = seen.get(`${c.flags} ${c.p}`);
    if (t === undefined) {
      stats.patterns++;
      try {
        const r = translatePcre(c.p, { caseless: c.flags.includes('i'), ungreedy: c.flags.includes('U') });
        t = { ok: r, regex: new RegExp(r.regex.source, 'd') };
        stats.translated++;
      } catch (e) {
        if (e instanceof PcreUnsupported) t = { unsupported: true };
        else if (e instanceof PcreCompileError) t = { error: e.message };
        else throw e;
        if (t.unsupported) stats.unsupported++;
        else stats.compileErrors++;
      }
      seen.set(`${c.flags} ${c.p}`, t);
    }
    if (t.unsupported) return;
    if (t.error !== undefined) {
      if (!pcre.startsWith('E')) differ(c, `glidein: compile error (${t.error}); PCRE2: ${pcre}`);
      return;
    }
    stats.subjects++;
    if (pcre.startsWith('E')) return differ(c, `glidein translated it; PCRE2 does not compile it (${pcre})`);
    const m = t.regex.exec(c.s);
    if (pcre === 'N' || pcre.startsWith('X')) {
      if (m !== null) differ(c, 'glidein matches, PCRE2 does not');
      return;
    }
    stats.matched++;
    if (m === null) return differ(c, `PCRE2 matches (${pcre}), glidein does not`);
    if (t.ok.repeatedGroups.size > 0) return; // groups may differ: glidein refuses \N with such a regex
    let rc = m.length;
    while (rc > 1 && m[rc - 1] === undefined) rc--;
    const spans = [];
    for (let g = 0; g < rc; g++) spans.push(t.ok.repeatedGroups.has(g) ? 'R' : m.indices[g] ? `${m.indices[g][0]},${m.indices[g][1]}` : '-1,-1');
    const want = pcre.split(' ').slice(2).map((sp, g) => (t.ok.repeatedGroups.has(g) ? 'R' : sp));
    if (`M ${rc} ${spans.join(' ')}` !== `M ${pcre.split(' ')[1]} ${want.join(' ')}`) differ(c, `groups: glidein M ${rc} ${spans.join(' ')}; PCRE2 ${pcre}`);
  });
  console.log(JSON.stringify(stats));
  process.exitCode = stats.differ === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
