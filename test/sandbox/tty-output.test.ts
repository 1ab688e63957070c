// A tty job's output file is opened by a copier running as the mapped account, never by the
// agent (issue 11, items 1 and 4); the channel secret typed into the terminal is cut from it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { echoFilter } from '../../agent/sandbox/tty-output.ts';
import { makeFixture, skipHelperMode, type SandboxFixture } from './sandbox-fixture.ts';

describe('the terminal echo of the channel secret', () => {
  const secret = 'ab'.repeat(32);
  it.each([
    ['in one piece', [`${secret}\r\nhello\r\n`], 'hello\r\n'],
    ['split across reads', [secret.slice(0, 10), `${secret.slice(10)}\r`, '\nhello'], 'hello'],
    ['twice (a helper with a terminal of its own)', [`${secret}\r\n`, `${secret}\r\r\n`, 'hello'], 'hello'],
    ['absent (output that does not start with it passes whole)', ['hello ', 'world'], 'hello world'],
  ])('is cut when it arrives %s', (_what, chunks, expected) => {
    const visible = echoFilter(secret);
    expect(chunks.map((c) => visible.take(c)).join('') + visible.rest()).toBe(expected);
  });

  it('is cut only at the very start, and output that merely began like it is kept', () => {
    const visible = echoFilter(secret);
    expect(visible.take(`x${secret}\r\n`)).toBe(`x${secret}\r\n`);
    expect(visible.take(`${secret}\r\n`)).toBe(`${secret}\r\n`);
    const other = echoFilter(secret);
    expect(other.take('ab')).toBe('');
    expect(other.rest()).toBe('ab');
  });
});

let fx: SandboxFixture;

describe.skipIf(!IS_ROOT)("a tty job's output file", () => {
  beforeAll(async () => {
    fx = await makeFixture(['glttyalice', 'glttybob']);
  });
  afterAll(() => fx?.cleanup());

  it('is refused by `glidein wrapper tty-output` when started as root', async () => {
    const r = await runCli(['wrapper', 'tty-output', join(fx.dir, 'never')], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing');
    expect(existsSync(join(fx.dir, 'never'))).toBe(false);
  });

  it.for(['setuid', 'helper'] as const)('pointing at a root-owned file is held with EACCES in %s mode, and the file is untouched', async (mode, ctx) => {
    if (mode === 'helper' && skipHelperMode()) return ctx.skip();
    const target = join(fx.dir, `root-tty-${mode}`);
    writeFileSync(target, 'precious\n', { mode: 0o644 });
    const job = fx.job({ id: `tty-root-${mode}`, executable: '/bin/echo', args: ['overwritten'], tty: true, stdout: target, identity: await fx.token({ sub: 'alice' }) });
    const r = await runCli(['exec', '--job', job, '--policy', fx.policies[mode], '--log-format', 'json'], { source: true });
    expect(r.code, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'EACCES' } });
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('is created by the account in helper mode, with the payload output and without the secret', async (ctx) => {
    if (skipHelperMode()) return ctx.skip();
    const w = fx.workdir(fx.users.b);
    const out = join(w, 'out');
    const job = fx.job({ id: 'tty-helper', executable: '/bin/sh', args: ['-c', 'tty; echo done'], tty: true, cwd: w, stdout: out, identity: await fx.token({ sub: 'bob' }) });
    const r = await runCli(['exec', '--job', job, '--policy', fx.policies.helper, '--log-format', 'json'], { source: true });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/^\/dev\/pts\/\d+\r?\ndone/);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });
});
