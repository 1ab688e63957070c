// POST /v1/status: only the family's bound key may report, and a report about a glidein that is
// unknown or not yet bound is refused before any proof is verified (no crypto for strangers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, generateDpopKey } from '../../../shared/dpop.ts';
import { registerPilot, type RunningService } from '../../../refresh-service/index.ts';
import { postJson, type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';

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
