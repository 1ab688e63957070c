import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvmfs } from '../../agent/validators/cvmfs.ts';
import { probeRepo } from '../../agent/validate/facts/cvmfs.ts';
import { runValidation } from '../../agent/validate/index.ts';
import { collectContext, fixtureHost } from '../validate/fixture.ts';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'glidein-cvmfs-test-'));
  mkdirSync(join(root, 'ok.example.org', 'etc'), { recursive: true });
  writeFileSync(join(root, 'ok.example.org', 'README'), 'hello\n');
  mkdirSync(join(root, 'empty.example.org'));
  // A FIFO with no writer: opening it for reading blocks, as a hung autofs/FUSE mount does.
  execFileSync('mkfifo', [join(root, 'blocked.example.org')]);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function host() {
  return fixtureHost('bare', {}, { cvmfsRoot: root });
}

describe('cvmfs', () => {
  it('reports each required repository: readable, empty, missing, and a blocking probe killed at its deadline', async () => {
    const req = { cvmfs: ['ok.example.org', 'empty.example.org', 'missing.example.org', 'blocked.example.org'] };
    const facts = await cvmfs.collect(collectContext(host(), { requirements: req, probeTimeoutMs: 2000 }));
    expect(facts.repos.map((r) => [r.repo, r.state])).toEqual([
      ['ok.example.org', 'ok'],
      ['empty.example.org', 'empty'],
      ['missing.example.org', 'missing'],
      ['blocked.example.org', 'timeout'],
    ]);
    const { result, attributes } = cvmfs.check(facts, req);
    expect(result).toMatchObject({ name: 'cvmfs', status: 'fail', value: ['ok.example.org'], required: req.cvmfs, failure: 'WN_Resource' });
    expect(result.detail).toMatch(/blocked\.example\.org: probe of .* killed after 2000 ms/);
    expect(attributes).toEqual({ CVMFS_MOUNT_DIR: root, HAS_CVMFS_ok_example_org: true });
  });

  it('kills the blocked prober: its process is gone when the answer comes', async () => {
    let pid = 0;
    const probe = await probeRepo(host(), 'blocked.example.org', { timeoutMs: 200, signal: new AbortController().signal, onSpawn: (p) => (pid = p) });
    expect(probe.state).toBe('timeout');
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('a whole validation with a blocking repository returns, failing cvmfs and nothing else', async () => {
    const report = await runValidation({ requirements: { cvmfs: ['blocked.example.org'] }, host: { cvmfsRoot: root }, probeTimeouts: { cvmfs: 300 } });
    expect(report.status).toBe('ERROR');
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.name)).toEqual(['cvmfs']);
  });

  it('passes when every required repository is readable', async () => {
    const req = { cvmfs: ['ok.example.org'] };
    const { result } = cvmfs.check(await cvmfs.collect(collectContext(host(), { requirements: req })), req);
    expect(result).toMatchObject({ status: 'pass', value: ['ok.example.org'], failure: null });
  });

  it('skips when nothing is required, saying whether the CVMFS root exists', async () => {
    const present = cvmfs.check(await cvmfs.collect(collectContext(host())), {});
    expect(present.result).toMatchObject({ status: 'skip', detail: `none required; ${root} present` });
    const absent = cvmfs.check(await cvmfs.collect(collectContext(fixtureHost('bare', {}, { cvmfsRoot: join(root, 'nope') }))), {});
    expect(absent.result.detail).toMatch(/absent$/);
    expect(absent.attributes).toEqual({});
  });
});
