// Issue 26 item 6: one error shape with a code in both formats, a stack only at --log-level
// debug, a repeated single-value flag refused, and parse errors in glidein's own words. On the old
// code usage errors were plain text even with --log-format json, repeated flags took the last
// value, Node's parser wording ("argument is ambiguous") leaked, and internal errors had a stack.
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.ts';
import { reportError } from '../agent/error-report.ts';
import { createLogger, type LogLevel } from '../shared/log.ts';

const cli = (args: string[]) => runCli(args, { source: true, timeoutMs: 30_000 });
const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('errors at the entry point', () => {
  it.each([
    ['a usage error', ['exec'], 'GLIDEIN_ERR_USAGE', /exec: --job is required/],
    ['a config error', ['refresh-service', 'serve', '--state', '/tmp/glidein-cli-errors-none', '--config', '/nonexistent/rs.json'], 'GLIDEIN_ERR_CONFIG', /config file \/nonexistent\/rs\.json does not exist/],
    ['a bad global flag', ['--log-level', 'loud', 'exec'], 'GLIDEIN_ERR_USAGE', /--log-level 'loud' is not valid/],
  ])('with --log-format json, %s is one JSON line with its code', async (_what, args, code, msg) => {
    const r = await cli(['--log-format', 'json', ...args]);
    expect(r.code).toBe(2);
    const [line, ...more] = jsonLines(r.stderr);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'error', code, msg: expect.stringMatching(msg) });
  });

  it('with --log-format human, the same error is one line with the same code', async () => {
    const r = await cli(['--log-format', 'human', 'exec']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^glidein: exec: --job is required \(the job spec file\)  code=GLIDEIN_ERR_USAGE\n$/);
  });

  it.each([
    [['exec', '--job', 'a.json', '--job', 'b.json'], "exec: --job was given twice ('a.json' and 'b.json'); it takes one value"],
    [['validate', '--format', 'json', '--format', 'xml'], "validate: --format was given twice ('json' and 'xml')"],
    [['run', '--bundle', 'a.json', '--bundle', 'b.json'], "run: --bundle was given twice ('a.json' and 'b.json')"],
    [['--log-level', 'info', '--log-level', 'debug', 'validate'], "--log-level was given twice ('info' and 'debug')"],
    [['refresh-service', 'serve', '--config', 'a.json', '--config=b.json'], "refresh-service serve: --config was given twice ('a.json' and 'b.json')"],
    [['refresh-service', 'register', '--state', 's', '--state', 't'], "refresh-service register: --state was given twice"],
  ])('refuses a repeated single-value flag: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.stderr).toContain(message);
    expect(r.code).toBe(2);
  });

  it.each([
    [['validate', '--format', '--require', 'cores>=1'], "validate: --format needs a value; the next argument '--require' is a flag"],
    [['run', '--idle-timeout', '-1'], "run: --idle-timeout needs a value; '-1' is taken for a flag, not a value (to give a value starting with '-', write --idle-timeout=-1)"],
    [['validate', '--format'], "validate: --format needs a value; see 'glidein validate --help'"],
    [['refresh-service', 'serve', '--state'], 'refresh-service serve: --state needs a value'],
  ])('says what is wrong in its own words: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/ambiguous|Option '|argument missing/);
    expect(r.code).toBe(2);
  });
});

describe('an internal error (a bug)', () => {
  const report = (level: LogLevel, format: 'json' | 'human') => {
    let out = '';
    const sink = { write: (s: string) => ((out += s), true) };
    const code = reportError(new TypeError('boom'), { log: createLogger({ format, level, sink }), stderr: sink, level, formatGiven: true });
    return { code, out };
  };

  it('has its code and no stack, unless --log-level debug', () => {
    const info = report('info', 'json');
    expect(info.code).toBe(1);
    expect(jsonLines(info.out)[0]).toEqual({ ts: expect.any(String), level: 'error', msg: 'internal error: boom', code: 'GLIDEIN_ERR_INTERNAL' });
    expect(jsonLines(report('debug', 'json').out)[0]).toMatchObject({ code: 'GLIDEIN_ERR_INTERNAL', stack: expect.stringContaining('TypeError: boom') });
    expect(report('info', 'human').out).toBe('glidein: internal error: boom  code=GLIDEIN_ERR_INTERNAL\n');
    expect(report('debug', 'human').out).toMatch(/^glidein: internal error: boom  code=GLIDEIN_ERR_INTERNAL stack="TypeError: boom/);
  });
});
