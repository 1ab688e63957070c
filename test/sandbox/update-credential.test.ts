// Credential updates for a running job through the programmatic API (startJob): a different
// identity is refused; a fresher credential for the same iss,sub replaces the file and moves
// the expiry deadline, so the job is not stopped at the old one.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IS_ROOT } from '../helpers/accounts.ts';
import { parseCredential } from '../../shared/credential.ts';
import { silentLogger } from '../../shared/log.ts';
import { CredStore } from '../../agent/store/index.ts';
import { loadPolicy, parseJobSpec, startJob } from '../../agent/sandbox/index.ts';
import { makeFixture, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;

describe.skipIf(!IS_ROOT)('credential updates for a running job', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glsbxupda', 'glsbxupdb']);
  });
  afterAll(() => fx?.cleanup());

  it('refuses another identity, accepts a fresher token for the same iss,sub, and the job outlives the old deadline', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Its deadline (exp - 2 s grace) leaves a loaded machine 6 s to launch the job and update it.
    const oldTok = await fx.token({ sub: 'alice-storage', exp: now + 8 });
    const w = fx.workdir(fx.users.a);
    const spec = parseJobSpec({
      id: 'update',
      executable: '/bin/sleep',
      args: ['30'],
      cwd: w,
      identity: await fx.token({ sub: 'alice' }),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: oldTok }],
    });
    const store = await CredStore.open(fx.workdir());
    const handle = startJob(spec, { policy: await loadPolicy(fx.policies.setuid), store, log: silentLogger });
    // Wait until the credential file exists (the job is being launched).
    const file = join(store.jobsDir, 'update', 'storage');
    for (let i = 0; i < 500 && !existsSync(file); i++) await sleep(20);
    expect(readFileSync(file, 'utf8')).toBe(oldTok);

    const other = parseCredential({ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'mallory', exp: now + 3600 }) });
    expect(handle.updateCredential(other)).toMatchObject({ ok: false, reason: expect.stringContaining('different identity') });
    const older = parseCredential({ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'alice-storage', exp: now + 7 }) });
    expect(handle.updateCredential(older)).toMatchObject({ ok: false });

    const fresh = parseCredential({ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'alice-storage', exp: now + 3600 }) });
    expect(handle.updateCredential(fresh)).toEqual({ ok: true });
    // The new file is written in the background: wait for it, not for a fixed time.
    for (let i = 0; i < 500 && readFileSync(file, 'utf8') !== fresh.token; i++) await sleep(20);
    expect(readFileSync(file, 'utf8')).toBe(fresh.token);

    // Past the old deadline (exp - grace = now + 6) the job still runs; then cancel it.
    while (Date.now() < (now + 7) * 1000) await sleep(100);
    handle.kill('cancelled');
    const r = await handle.result;
    expect(r).toMatchObject({ state: 'killed', uid: fx.users.a.uid });
    expect(r.reason).toMatch(/^cancelled/);
    // The job's credentials are wiped when it ends.
    expect(readdirSync(store.jobsDir)).not.toContain('update');
    await store.wipeAll();
  });
});
