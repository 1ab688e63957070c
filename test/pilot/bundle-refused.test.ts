// What the refresh service says about the bundle itself, in the pilot's words (issue 26 item
// 4): a copy of a bundle another pilot used (its family bound to that pilot's key: 401
// invalid_dpop_proof, wrong key) and a refresh_url that answers 404 are bad bundles, exit 2 at
// once with a message saying which, instead of retrying until the family ends (the spent copy)
// or calling the family "expired, revoked or reused" (the 404). Real agents, a real service.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';
import { pilotScenarios, startAgent, summaryOf, waitForLog } from '../fixtures/pilot/agent.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

describe('a bundle the refresh service refuses as such', () => {
  it('a spent copy of a bundle another pilot uses: exit 2 "this bundle belongs to another pilot" after one refresh, and the other pilot is untouched', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-spent-copy');
    const copy = join(dir, 'copy.bundle.json');
    copyFileSync(bundle, copy);
    const first = startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '120']);
    await waitForLog(first, 'credentials valid');
    // A family registered before the first-token rule (issue 21 item 4), as an older release
    // left it: a spent copy then gets 'wrong key', as any later token under another key does.
    const db = new DatabaseSync(join(s.stateDir, 'state.db'));
    db.prepare('UPDATE families SET first_token = NULL WHERE glidein_id = ?').run('g-spent-copy');
    db.close();

    const second = startAgent(['--bundle', copy, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '120']);
    const r = await second.done;
    expect(r.code, r.stderr).toBe(2);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 2, reason: 'bundle-of-another-pilot', refreshes: 0, refreshFailures: 1, jobs: { started: 0 } });
    expect(r.stderr).toMatch(/"level":"error","msg":"this bundle belongs to another pilot \(refresh service answered 401 invalid_dpop_proof: DPoP key does not match/);
    expect(r.stderr).toContain('"code":"GLIDEIN_ERR_BUNDLE"');

    const store = new SqliteStateStore(s.stateDir);
    try {
      expect((await store.getFamily('g-spent-copy'))?.revokedAt).toBeNull();
    } finally {
      await store.close();
    }
    expect(first.child.exitCode).toBeNull();
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
  }, 90_000);

  it('a refresh_url that answers 404: exit 2 saying the URL is wrong, not that the family is expired, revoked or reused', async () => {
    const { s, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-url-typo');
    const wire = JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>;
    writeFileSync(bundle, JSON.stringify({ ...wire, refresh_url: `${s.url}/typo` }), { mode: 0o600 });
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--failure-delay', '0', '--', '/bin/sleep', '120']).done;
    expect(r.code, r.stderr).toBe(2);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 2, reason: 'refresh-url-not-found', jobs: { started: 0 } });
    expect(r.stderr).toContain(`the bundle's refresh URL is wrong: ${s.url}/typo/v1/refresh answered 404 Not Found`);
    expect(r.stderr).not.toContain('expired, revoked or was reused');
  }, 90_000);
});
