// The executable in two layers (scripts/build-split.mjs, issue 27 section 5): its main script is
// the dispatch alone, and each command's code is an asset of its own, compiled with its V8 code
// cache only when that command runs. A command's errors are the dispatch's own classes (one
// shared/errors.ts), so they map to the same exit codes and lines as from the TypeScript source.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_TABLE } from '../../agent/command-table.ts';
import { CLI_TS, EXE, NODE, ROOT } from '../helpers/paths.ts';

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, GLIDEIN_DEBUG_CHUNKS: '1' }, timeout: 60_000 });
const chunkLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('glidein: chunk '));

describe('the split executable', () => {
  it('embeds one bundle per command module, and its main script holds none of the service', () => {
    const chunks = JSON.parse(readFileSync(join(ROOT, 'dist', 'chunks', 'chunks.json'), 'utf8')) as { commands: string[]; shared: string[] };
    expect(chunks.commands).toHaveLength(new Set(COMMAND_TABLE.map((c) => c.load.toString())).size);
    expect(chunks.commands).toEqual(expect.arrayContaining(['agent-commands-validate', 'agent-commands-run', 'refresh-service-commands-serve']));
    expect(chunks.shared).toContain('shared/errors.ts');
    const main = readFileSync(join(ROOT, 'dist', 'glidein.cjs'), 'utf8');
    for (const name of ['SqliteStateStore', 'DatabaseSync', 'runValidation', 'createLocalJWKSet']) expect(main, name).not.toContain(name);
  });

  it('--version compiles no command', () => {
    const r = run(EXE, ['--version']);
    expect(r.status).toBe(0);
    expect(chunkLines(r.stderr)).toEqual([]);
  });

  it.for([
    ['validate', ['validate', '--format', 'json'], 'agent-commands-validate'],
    ['run (on the lean runtime)', ['run', '--bundle', '/nonexistent/bundle.json', '--', '/bin/true'], 'agent-commands-run'],
    ['exec', ['exec', '--job', '/nonexistent/job.json'], 'agent-commands-exec'],
    ['refresh-service revoke', ['refresh-service', 'revoke'], 'refresh-service-commands-revoke'],
  ] as const)('%s compiles its own bundle alone, its code cache accepted, and exits as the source does', ([, args, id]) => {
    const r = run(EXE, [...args]);
    expect(chunkLines(r.stderr)).toEqual([`glidein: chunk ${id} (code cache used)`]);
    const source = run(NODE, [CLI_TS, ...args]);
    expect(r.status).toBe(source.status);
    const last = (s: string) => s.split('\n').filter((l) => l !== '' && !l.startsWith('glidein: chunk ')).at(-1);
    if (args[0] !== 'validate') expect(last(r.stderr)).toBe(last(source.stderr));
  });
});
