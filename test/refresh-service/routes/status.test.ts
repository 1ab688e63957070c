// POST /v1/status: only the family's bound key may report, and a report about a glidein that is
// unknown or not yet bound is refused before any proof is verified (no crypto for strangers);
// reports are not charged to the family's refresh bucket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, generateDpopKey } from '../../../shared/dpop.ts';
import { registerPilot, startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { makeSandbox, postJson, refresh, type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';

let sb: Sandbox;
let svc: RunningService;
beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
});
afterAll(() => stopSandboxService(svc, sb));

describe('status reports', () => {
  it.each([['an unknown glidein', false], ['a glidein not yet bound to a key', true]])('refuses a report about %s before looking at its proof', async (_what, registered) => {
    const id = `st-${registered ? 'queued' : 'nobody'}`;
    if (registered) await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: id, entry: 'CE', url: svc.url });
    // A well-formed proof and a garbage one get the same answer: neither was verified.
    const good = await createDpopProof(await generateDpopKey(), { htm: 'POST', htu: `${svc.url}/v1/status` });
    for (const dpop of [good, 'not.a.proof']) {
      const r = await postJson(`${svc.url}/v1/status`, { glidein_id: id, state: 'running' }, { dpop });
      expect(r).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof', error_description: 'status must be signed by the key bound at the first refresh' } });
    }
  });
});

describe('status reports and the family rate limit', () => {
  it('takes the final report of a pilot whose refreshes used up the family bucket (issue 26 item 2)', async () => {
    const own = await makeSandbox();
    // One token a minute: nothing refills within this test, whatever the machine's speed.
    const limited = await startRefreshService({ stateDir: own.stateDir, config: own.config({ rateLimit: { familyBurst: 3, familyPerMinute: 1 } }), listen: '127.0.0.1:0' });
    try {
      const wire = await registerPilot({ stateDir: own.stateDir, config: own.config(), glideinId: 'st-storm', entry: 'CE', url: limited.url });
      const key = await generateDpopKey();
      let token = wire.refresh_token;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await refresh(limited.url, token, key);
        statuses.push(r.status);
        if (r.status === 200) token = (r.body as { refresh_token: string }).refresh_token;
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      const url = `${limited.url}/v1/status`;
      const final = await postJson(url, { glidein_id: 'st-storm', state: 'exited', exit: { code: 1, reason: 'disk-full' } }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url }) });
      expect(final).toMatchObject({ status: 200, body: { status: 'recorded' } });
      // The refresh bucket is still spent: reports did not refill it, and it did not absorb them.
      expect((await refresh(limited.url, token, key)).status).toBe(429);
    } finally {
      await stopSandboxService(limited, own);
    }
  });
});
