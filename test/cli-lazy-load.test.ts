// What each role of the executable loads (issue 27 section 5: cold start and validation). The
// entry point dispatches through the command table and loads a command's code when it runs, so
// `--version` pays for the dispatch alone, and an agent role never loads the refresh service,
// its console or the PostgreSQL client. Run on the TypeScript entry with a resolve hook that
// records every module the process loaded (the bundle keeps the same split: esbuild wraps each
// dynamically imported module in a lazy initializer). No timing is asserted: the figures are in
// `npm run bench`.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CLI_TS, NODE, ROOT } from './helpers/paths.ts';

const RECORDER = join(ROOT, 'test', 'fixtures', 'record-loads.mjs');

/** The modules `glidein ARGS` loaded: builtins as node:NAME, files relative to the repository. */
function loads(args: string[]): { code: number | null; stderr: string; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'glidein-loads-'));
  try {
    const out = join(dir, 'loads');
    const r = spawnSync(NODE, ['--import', RECORDER, CLI_TS, ...args], { env: { ...process.env, GLIDEIN_TEST_LOADS: out }, encoding: 'utf8', timeout: 60_000 });
    const modules = readFileSync(out, 'utf8').trim().split('\n').map((m) => (m.startsWith('/') ? relative(ROOT, m) : m));
    return { code: r.status, stderr: r.stderr, modules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Never in an agent role: the service, its console, PostgreSQL and SQLite (node:http is the agent's client too).
const SERVICE_SIDE = [/^refresh-service\//, /node_modules\/postgres\//, /^node:sqlite$/];

describe('what each role loads', () => {
  it('--version loads the dispatch alone: no command module, no help text, no node:v8', () => {
    const r = loads(['--version']);
    expect(r.code, r.stderr).toBe(0);
    const files = r.modules.filter((m) => !m.startsWith('node:'));
    expect(files.filter((m) => !/^(agent\/(cli|command-table|error-report|sandbox\/inherited-fds)\.ts|shared\/[a-z-]+\.ts|package\.json)$/.test(m))).toEqual([]);
    expect(r.modules).not.toContain('node:v8');
    expect(r.modules).not.toContain('agent/help.ts');
    expect(files.length).toBeGreaterThan(3); // the recorder saw the dispatch itself
  });

  it('--help loads the help texts, still no command module', () => {
    const r = loads(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.modules).toContain('agent/help.ts');
    expect(r.modules.filter((m) => m.startsWith('agent/commands/') || m.startsWith('refresh-service/'))).toEqual([]);
  });

  it('validate without a policy loads no service code, no jose, no node:crypto and no sandbox launcher', () => {
    const r = loads(['validate', '--format', 'json']);
    expect([0, 1], r.stderr).toContain(r.code);
    expect(r.modules).toContain('agent/commands/validate.ts');
    const unneeded = [...SERVICE_SIDE, /node_modules\/jose\//, /^node:crypto$/, /^agent\/sandbox\/start-job\.ts$/, /^agent\/validate\/identity-(plan|test)\.ts$/];
    expect(r.modules.filter((m) => unneeded.some((re) => re.test(m)))).toEqual([]);
  });

  it.for([
    ['exec', ['exec', '--job', '/nonexistent/job.json']],
    ['run', ['run', '--bundle', '/nonexistent/bundle.json', '--', '/bin/true']],
  ] as const)('%s (an agent role) loads no refresh service, console or PostgreSQL code', ([name, args]) => {
    const r = loads([...args]);
    expect(r.code, r.stderr).not.toBe(0); // refused: the file does not exist
    expect(r.modules).toContain(`agent/commands/${name}.ts`);
    expect(r.modules.filter((m) => SERVICE_SIDE.some((re) => re.test(m)))).toEqual([]);
  });
});
