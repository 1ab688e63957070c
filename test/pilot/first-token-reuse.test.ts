// Issue 21 item 4: whoever reads a queued bundle first can make the first refresh and bind the
// family to its own key. The service makes that loud and short-lived: the family's *first*
// token presented again under another key revokes the family (a security event in /metrics and
// the console), and the honest pilot exits 1 saying why. Real service on loopback, two real
// agent processes started from copies of one bundle file (the second reader's copy is taken
// before the first agent scrubs the refresh token out of the file).
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf, waitForLog } from '../fixtures/pilot/agent.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

async function consoleOverview(url: string, stateDir: string): Promise<string> {
  const admin = readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
  const login = await fetch(`${url}/console/login`, { method: 'POST', redirect: 'manual', headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: admin }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  return (await fetch(`${url}/console`, { headers: { cookie } })).text();
}

describe('a bundle used by two pilots', () => {
  it('the second first refresh revokes the family; the honest pilot exits 1 saying so; /metrics and the console show the event', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-twice');
    const copy = join(dir, 'copy.bundle.json');
    copyFileSync(bundle, copy);
    // The thief's pilot refreshes first and binds the family to its key.
    const thief = startAgent(['--bundle', bundle, '--workdir', join(work), '--failure-delay', '0', '--', '/bin/sleep', '120']);
    await waitForLog(thief, 'credentials valid');
    // The honest pilot, from its copy of the same bundle: its first refresh ends the family.
    const honestWork = scenarios.tempDir('glidein-honest-');
    const honest = startAgent(['--bundle', copy, '--workdir', honestWork, '--failure-delay', '0', '--', '/bin/true']);
    const r = await honest.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('this bundle was used by two pilots');
    expect(r.stderr).toContain('first token used by two keys');
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 1, reason: 'credentials-unobtainable' });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^glidein_refresh_first_token_reuse_total 1$/m);
    const page = await consoleOverview(s.url, s.stateDir);
    expect(page).toContain('first token used by two keys: family revoked');
    // The thief's family is revoked: its next refresh is refused; its credentials end at expiry.
    thief.child.kill('SIGTERM');
    await thief.done;
  }, 90_000);
});
