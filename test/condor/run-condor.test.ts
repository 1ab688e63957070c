// `glidein run --condor` end to end with the real refresh service and the stand-in master:
// the C-CRED is in the token dir before the master starts, a SIGTERM to the pilot reaches the
// master only, the summary carries the startd's end, and nothing is left; a node that fails
// validation still advertises a drained slot (START = False, the failure as attributes) for the
// anti-black-hole delay.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf } from '../fixtures/pilot/agent.ts';
import { hasEnded, readProcTable } from '../../agent/sandbox/process-sweep.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'condor');
const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

/** The registered pilot's bundle with the HTCondor fields the service will set. */
function withCondorFields(path: string, extra: Record<string, unknown>): string {
  const b = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...b, collector: '127.0.0.1:9618', ...extra }), { mode: 0o600 });
  return path;
}

async function until(what: string, ok: () => boolean, ms = 40_000): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function record(work: string): string {
  const glide = existsSync(work) ? readdirSync(work).find((n) => existsSync(join(work, n, 'condor', 'local', 'log', 'fixture.record'))) : undefined;
  return glide ? readFileSync(join(work, glide, 'condor', 'local', 'log', 'fixture.record'), 'utf8') : '';
}

describe('glidein run --condor', () => {
  it('starts condor_master with the C-CRED in place; SIGTERM to the pilot stops the master only; nothing is left', async () => {
    const { s, work } = await scenarios.setup(60);
    const bundle = withCondorFields(await s.bundlePath('g-condor'), {});
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--condor', FIXTURE]);
    let seen = '';
    await until('the stand-in master', () => (seen = record(work)).includes('procd:'));
    expect(seen).toContain('tokens-at-start: 1');
    expect(seen).toContain('start: retired=False');
    agent.child.kill('SIGTERM');
    const r = await agent.done;
    expect(r.code).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'signal', payload: { kind: 'condor', version: '25.14.0', master: { code: 0 } } });
    expect(r.stderr).toContain('no identity switching configured');
    expect(readdirSync(work)).toEqual([]);
    const procd = Number(/procd: (\d+)/.exec(seen)![1]);
    // Gone, or a zombie waiting for its new parent to reap it: either way it no longer runs.
    expect(readProcTable().some((p) => p.pid === procd && !hasEnded(p))).toBe(false);
  }, 90_000);

  it('on a failed validation advertises a drained slot (START false, the failure as attributes) for the anti-black-hole delay', async () => {
    const { s, work } = await scenarios.setup(60);
    const bundle = withCondorFields(await s.bundlePath('g-condor-failed'), { requirements: ['cores=100000'] });
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '4', '--keep-workdir', '--condor', FIXTURE]);
    await until('the stand-in master', () => record(work).includes('procd:'));
    const glide = readdirSync(work)[0]!;
    const cfg = readFileSync(join(work, glide, 'condor', 'condor_config'), 'utf8');
    expect(cfg).toContain('GLIDEIN_Validation_Status = "ERROR"');
    expect(cfg).toContain('GLIDEIN_Validation_Failed_Checks = "cores"');
    expect(cfg).toMatch(/START = .*MY\.GLIDEIN_Validation_Status =\?= "OK"/);
    const r = await agent.done;
    expect(r.code).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'validation-failed' });
    expect(record(work)).toContain('master: SIGTERM');
  }, 90_000);

  it('is a usage error together with --spool or a command, and exit 2 without a collector in the bundle', async () => {
    const { s, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-condor-usage');
    const both = await startAgent(['--bundle', bundle, '--workdir', work, '--condor', FIXTURE, '--', '/bin/true']).done;
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/one of --spool DIR, --condor \[DIR\] or -- COMMAND/);
    const noCollector = await startAgent(['--bundle', bundle, '--workdir', work, '--condor', FIXTURE]).done;
    expect(noCollector.code).toBe(2);
    expect(noCollector.stderr).toMatch(/collector/);
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);
});
