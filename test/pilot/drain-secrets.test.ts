// Secrets must not outlive a batch system's SIGKILL during a drain (issue 12 item 3): the
// refresh token and the DPoP key are removed when the drain starts, before payloads are even
// signalled. A real agent, a payload that ignores SIGTERM (so the drain lasts the kill grace),
// and a SIGKILL of the agent in the middle of it, as Slurm does after KillWait.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, waitFor, waitForLog } from '../fixtures/pilot/agent.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

describe('drain', () => {
  it('removes the refresh token and the DPoP key at its start: a SIGKILL during the drain leaves neither on disk', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const started = join(dir, 'started');
    const agent = startAgent(['--bundle', await s.bundlePath('g-drain'), '--workdir', work, '--failure-delay', '0', '--', '/bin/sh', '-c', `trap '' TERM; echo $$ > ${started}.pid; touch ${started}; while :; do sleep 1; done`]);
    await waitFor(started, 60_000, agent);
    const pilotDir = join(work, readdirSync(work)[0]!, 'cred.d', 'pilot');
    expect(readdirSync(pilotDir)).toEqual(expect.arrayContaining(['refresh-token', 'dpop-key']));
    agent.child.kill('SIGTERM');
    await waitForLog(agent, 'drain: refresh token and DPoP key removed');
    // The payload ignores SIGTERM: the agent is inside its 20 s grace now. Slurm's SIGKILL:
    agent.child.kill('SIGKILL');
    await agent.done;
    const pid = Number(readFileSync(`${started}.pid`, 'utf8'));
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    expect(existsSync(pilotDir)).toBe(true);
    const left = readdirSync(pilotDir);
    expect(left).not.toContain('refresh-token');
    expect(left).not.toContain('dpop-key');
    console.info(`[figure] on disk after a SIGKILL during the drain: cred.d/pilot = ${JSON.stringify(left)}`);
  }, 90_000);
});
