// POST /v1/status: the agent's heartbeat and validation report, authenticated by a DPoP proof
// from the key its family is bound to; stored as the glidein's last report (its time is what
// heartbeatTimeout measures).
import { STATUS_PATH, isSafeId } from '../../shared/protocol.ts';
import { HttpRefusal } from '../http/refusal.ts';
import { summarizeValidation } from '../operator/validation-summary.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

/**
 * A pilot ending at its maximum lifetime stops exactly when its family expires, so its last
 * report ('exited', with the summary) arrives just after: taken for this long (seen with a real
 * HTCondor pool, where every pilot's final report was refused). Nothing is granted by it.
 */
export const FINAL_REPORT_GRACE_S = 300;

async function status(ctx: RequestContext): Promise<unknown> {
  const { store } = ctx.service;
  const body = await ctx.jsonBody();
  const id = body['glidein_id'];
  if (!isSafeId(id)) throw new HttpRefusal(400, 'invalid_request', 'glidein_id: expected the glidein id');
  ctx.info.glideinId = id;
  // The family first (cheap): an unknown or unbound glidein costs no signature check.
  const family = await store.getFamily(id);
  if (family) ctx.info.entry = family.entry;
  const refuse = (jkt: string | undefined) => {
    ctx.security('status report not signed by the family key', { jkt, remote: ctx.remote });
    return new HttpRefusal(401, 'invalid_dpop_proof', 'status must be signed by the key bound at the first refresh');
  };
  if (!family || family.jkt === null) throw refuse(undefined);
  const proof = await ctx.proof(STATUS_PATH);
  if (family.jkt !== proof.jkt) throw refuse(proof.jkt);
  ctx.limitFamily(id, proof.jkt, 'status');
  if (!(await store.recordJti(proof.jti, proof.jtiExpiresAt, proof.now))) {
    ctx.security('DPoP proof replayed', { reason: 'jti seen before' });
    throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP proof jti was used before');
  }
  const finalReport = body['state'] === 'exited' && proof.now < family.expiresAt + FINAL_REPORT_GRACE_S;
  if (family.revokedAt !== null || (family.expiresAt <= proof.now && !finalReport)) throw new HttpRefusal(401, 'invalid_grant', 'the glidein is revoked or expired', 'revoked');
  await store.recordStatus(id, JSON.stringify(body), proof.now);
  // The validation verdict outlives the report: later heartbeats replace the report only.
  const validation = summarizeValidation(body);
  if (validation) await store.recordValidation(id, JSON.stringify(validation), proof.now);
  ctx.info.outcome = 'recorded';
  return { status: 'recorded' };
}

export const statusRoute: Route = { method: 'POST', path: STATUS_PATH, limited: true, handle: status };
