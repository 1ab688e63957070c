// Job spec validation: every bad field is GLIDEIN_ERR_JOB_SPEC naming the field; through the
// CLI a malicious spec exits 2 before anything runs.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJobSpec } from '../../agent/sandbox/job-spec.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'glsbx-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok = { id: 'job-1', executable: '/bin/true' };
const BAD: [string, Record<string, unknown>, string][] = [
  ['path traversal in id', { ...ok, id: '../../etc' }, 'id'],
  ['a slash in id', { ...ok, id: 'a/b' }, 'id'],
  ['a relative executable', { ...ok, executable: 'true' }, 'executable'],
  ['huge args', { ...ok, args: Array.from({ length: 5000 }, () => 'x') }, 'args'],
  ['args over 256 KiB', { ...ok, args: ['x'.repeat(300 * 1024)] }, 'args'],
  ['a non-string arg', { ...ok, args: ['a', 1] }, 'args[1]'],
  ['a non-string env value', { ...ok, env: { A: 1 } }, 'env.A'],
  ['an object env value', { ...ok, env: { A: { nested: true } } }, 'env.A'],
  ['a bad env name', { ...ok, env: { 'A=B': 'x' } }, 'env.A=B'],
  ['LD_PRELOAD in env', { ...ok, env: { LD_PRELOAD: '/x.so' } }, 'env.LD_PRELOAD'],
  ['BEARER_TOKEN in env (it outranks BEARER_TOKEN_FILE in WLCG discovery)', { ...ok, env: { BEARER_TOKEN: 'eyJ.stolen' } }, 'env.BEARER_TOKEN'],
  ['a relative cwd', { ...ok, cwd: 'work' }, 'cwd'],
  ['a non-boolean tty', { ...ok, tty: 'yes' }, 'tty'],
  ['a zero wallclock limit', { ...ok, limits: { wallclockSeconds: 0 } }, 'limits.wallclockSeconds'],
  ['an unknown field', { ...ok, shell: true }, 'shell'],
  ['a negative GPU count', { ...ok, gpus: -1 }, 'gpus'],
  ['a fractional GPU count', { ...ok, gpus: 0.5 }, 'gpus'],
  ['a GPU count as a string', { ...ok, gpus: '1' }, 'gpus'],
  ['more GPUs than any node has', { ...ok, gpus: 65 }, 'gpus'],
  ['a malformed credential', { ...ok, credentials: [{ purpose: 'storage', type: 'scitoken', token: 'nope' }] }, 'credentials[0]'],
];

describe('job spec validation', () => {
  it.each(BAD)('%s is rejected naming the field', (_what, spec, field) => {
    expect(() => parseJobSpec(spec, 'job.json')).toThrowError(expect.objectContaining({ code: 'GLIDEIN_ERR_JOB_SPEC', message: expect.stringContaining(field) }));
  });

  it('a minimal spec gets its defaults', () => {
    expect(parseJobSpec(ok)).toMatchObject({ id: 'job-1', args: [], env: {}, cwd: null, tty: false, limits: { wallclockSeconds: null }, identity: null, credentials: [], gpus: 0 });
    expect(parseJobSpec({ ...ok, gpus: 2 }).gpus).toBe(2);
  });

  it.each([
    ['path traversal in id', { ...ok, id: '../escape' }, "'id'"],
    ['huge args', { ...ok, args: Array.from({ length: 5000 }, () => 'x') }, "'args'"],
    ['non-string env values', { ...ok, env: { A: 1 } }, "'env.A'"],
    ['a BEARER_TOKEN in env', { ...ok, env: { BEARER_TOKEN: 'eyJ.stolen' } }, "'env.BEARER_TOKEN'"],
  ])('glidein exec rejects %s with exit 2', async (_what, spec, field) => {
    const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(spec));
    const r = await runCli(['exec', '--job', file], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(field);
    expect(r.stdout).toBe('');
  });

  it('glidein exec rejects a job file that is not JSON with exit 2', async () => {
    const file = join(dir, 'not-json.json');
    writeFileSync(file, '{"id": ');
    const r = await runCli(['exec', '--job', file], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
  });
});
