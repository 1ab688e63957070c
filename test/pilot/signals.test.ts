// Every signal a batch system or a CE sends drains `glidein run` (issue 12 item 2): real agent
// processes, a real refresh service, real payloads; after each, the payload is gone and nothing
// is left under the work dir. SIGQUIT drains fast: a payload ignoring SIGTERM is killed after
// the short grace instead of the full one. The tests run one after the other: each starts a real
// agent, and a dozen agents starting at once on a 2-core CI machine time out.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf, waitFor, waitForLog } from '../fixtures/pilot/agent.ts';
import { DRAIN_SIGNALS } from '../../agent/pilot/signals.ts';
import { FAST_DRAIN_GRACE_S } from '../../agent/pilot/pilot-run.ts';
import { isRunning } from '../helpers/process-alive.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());


/** The agent's JSON log line for the start of the drain. */
function drainLine(stderr: string): Record<string, unknown> | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.includes('"draining"')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

async function runAndSignal(sigs: NodeJS.Signals | NodeJS.Signals[], payload: string, name: string) {
  const { s, dir, work } = await scenarios.setup(60);
  const bundle = await s.bundlePath(name);
  const started = join(dir, 'started');
  const agent = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${started}.pid; touch ${started}; ${payload}`]);
  await waitFor(started, 60_000, agent);
  const t0 = Date.now();
  for (const [i, sig] of [sigs].flat().entries()) {
    // A later signal arrives during the drain the first one started.
    if (i > 0) await waitForLog(agent, '"draining"');
    agent.child.kill(sig);
  }
  const r = await agent.done;
  const drainMs = Date.now() - t0;
  return { r, drainMs, work, pid: Number(readFileSync(`${started}.pid`, 'utf8')) };
}

describe('glidein run signals', () => {
  it.each(DRAIN_SIGNALS.map((s) => [s]))('%s drains: the payload is stopped, the store and work dir removed, exit 0', async (sig) => {
    const { r, drainMs, work, pid } = await runAndSignal(sig, 'exec sleep 120', `g-${sig.toLowerCase()}`);
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'signal', jobs: { killed: 1, running: 0 } });
    expect(drainLine(r.stderr)).toMatchObject({ signal: sig, fast: false });
    expect(isRunning(pid)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] ${sig} drain (payload obeys SIGTERM): ${drainMs} ms`);
  }, 90_000);

  it('SIGQUIT drains fast: a payload ignoring SIGTERM is killed after the short grace', async () => {
    const { r, drainMs, work, pid } = await runAndSignal('SIGQUIT', "trap '' TERM; while :; do sleep 1; done", 'g-sigquit');
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'signal', jobs: { killed: 1, running: 0 } });
    expect(drainLine(r.stderr)).toMatchObject({ signal: 'SIGQUIT', fast: true, graceS: FAST_DRAIN_GRACE_S });
    expect(isRunning(pid)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] SIGQUIT fast drain (payload ignores SIGTERM): ${drainMs} ms`);
  }, 90_000);

  it('SIGQUIT during a SIGTERM drain shortens the grace: a payload ignoring SIGTERM is killed well before 20 s', async () => {
    const { r, drainMs, work, pid } = await runAndSignal(['SIGTERM', 'SIGQUIT'], "trap '' TERM; while :; do sleep 1; done", 'g-term-quit');
    expect(r.code, r.stderr).toBe(0);
    expect(drainLine(r.stderr)).toMatchObject({ signal: 'SIGTERM', fast: false, graceS: 20 });
    expect(r.stderr).toMatch(new RegExp(`"stopping the payload".*"graceMs":${FAST_DRAIN_GRACE_S * 1000}`));
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'signal', jobs: { killed: 1 } });
    expect(isRunning(pid)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] SIGTERM then SIGQUIT during the drain (payload ignores SIGTERM): ${drainMs} ms`);
  }, 90_000);

  it('a second SIGTERM during a drain makes it fast instead of exiting at once: payload killed, nothing left, exit 0', async () => {
    const { r, drainMs, work, pid } = await runAndSignal(['SIGTERM', 'SIGTERM'], "trap '' TERM; while :; do sleep 1; done", 'g-term-term');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`"stopping the payload".*"graceMs":${FAST_DRAIN_GRACE_S * 1000}`));
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'signal', jobs: { killed: 1 } });
    expect(isRunning(pid)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    console.info(`[figure] SIGTERM twice (payload ignores SIGTERM): ${drainMs} ms`);
  }, 90_000);
});
