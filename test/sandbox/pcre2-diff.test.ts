// glidein's PCRE2 translation (agent/sandbox/pcre.ts) against the real PCRE2 library, with the
// options HTCondor's MapFile uses: scripts/interop/pcre2-diff.mjs builds a small oracle of ours
// on libpcre2-8 and compares random patterns and subjects (compiles or not, matches or not, the
// groups glidein substitutes). A fixed seed, so a failure can be rerun and shown.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, ROOT } from '../helpers/paths.ts';
import { findExecutable, skipWithout } from '../helpers/system-tools.ts';

const available = existsSync('/usr/include/pcre2.h') && findExecutable('gcc') !== undefined;

describe.skipIf(skipWithout('gcc and libpcre2-dev (the PCRE2 library the translation is checked against)', available, 'apt-get install gcc libpcre2-dev'))('PCRE2 translation vs libpcre2', () => {
  it('agrees with PCRE2 on 3000 random patterns x 8 subjects (seed 7)', () => {
    const r = spawnSync(NODE, [join(ROOT, 'scripts', 'interop', 'pcre2-diff.mjs'), '3000', '7'], { encoding: 'utf8', timeout: 180_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const stats = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(stats).toMatchObject({ differ: 0 });
    // The run really compared something: translated patterns, compile errors on both sides, matches.
    expect(stats['translated']).toBeGreaterThan(800);
    expect(stats['compileErrors']).toBeGreaterThan(300);
    expect(stats['matched']).toBeGreaterThan(3000);
  }, 200_000);
});
