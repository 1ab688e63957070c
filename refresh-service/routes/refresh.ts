// POST /v1/refresh (DESIGN.md section 9, contract): a single-use refresh token and a DPoP proof
// in, fresh credentials and the next token out. The rotation is decided and committed by the
// store in one transaction before the answer is sent.
import { REFRESH_PATH } from '../../shared/protocol.ts';
import { mintCredentials } from '../mint.ts';
import { REFRESH_TOKEN_PATTERN, hashRefreshToken, newRefreshToken } from '../refresh-token.ts';
import { HttpRefusal } from '../http/refusal.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

async function refresh(ctx: RequestContext): Promise<unknown> {
  const { store, keys, mint, log, metrics } = ctx.service;
  const info = ctx.info;
  const body = await ctx.jsonBody();
  const token = body['refresh_token'];
  if (typeof token !== 'string' || !REFRESH_TOKEN_PATTERN.test(token)) throw new HttpRefusal(400, 'invalid_request', 'refresh_token: expected an opaque base64url token');
  const oldHash = hashRefreshToken(token);
  const peek = await store.peekToken(oldHash);
  if (peek) {
    info.glideinId = peek.family.glideinId;
    info.entry = peek.family.entry;
  }
  // A refused proof returns here: nothing is spent, nothing revoked.
  const proof = await ctx.proof(REFRESH_PATH);
  if (peek) ctx.limitFamily(peek.family.glideinId, proof.jkt);
  const now = proof.now;
  const usable = peek && !peek.spent && peek.family.revokedAt === null && peek.family.expiresAt > now && (peek.family.jkt === null || peek.family.jkt === proof.jkt);
  // Mint before committing: once the rotation is committed the answer must go out.
  if (usable) mint.signingKeys = await keys.fresh();
  const credentials = usable ? await mintCredentials(mint, { glideinId: peek.family.glideinId, entry: peek.family.entry, now, familyExpiresAt: peek.family.expiresAt }) : [];
  const next = usable ? newRefreshToken() : null;
  const outcome = await store.settleRefresh({ oldHash, newHash: next === null ? null : hashRefreshToken(next), jkt: proof.jkt, jti: proof.jti, jtiExpiresAt: proof.jtiExpiresAt, now });
  switch (outcome.kind) {
    case 'rotated': {
      if (outcome.bound) log.info('refresh family bound to DPoP key', { glidein_id: outcome.family.glideinId, entry: outcome.family.entry, jkt: proof.jkt });
      const soonest = Math.min(...credentials.map((c) => c.expires_at));
      info.outcome = 'rotated';
      return { refresh_token: next, credentials, refresh_after: now + Math.max(1, Math.floor((soonest - now) * 0.6)) };
    }
    case 'replayed_jti':
      ctx.security('DPoP proof replayed', { reason: 'jti seen before' });
      throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP proof jti was used before');
    case 'wrong_key':
      ctx.security('DPoP proof from a key the family is not bound to', { jkt: proof.jkt });
      throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP key does not match the key this refresh token is bound to');
    case 'reused':
      metrics.reuseDetections++;
      ctx.security('spent refresh token presented again: family revoked', { jkt: proof.jkt, remote: ctx.remote });
      throw new HttpRefusal(401, 'invalid_grant', 'refresh token already used; the glidein is revoked', 'reuse_detected');
    case 'revoked':
      throw new HttpRefusal(401, 'invalid_grant', 'the glidein is revoked', 'revoked');
    case 'expired':
      throw new HttpRefusal(401, 'invalid_grant', 'the glidein has passed its maximum lifetime', 'expired');
    case 'unknown':
      throw new HttpRefusal(401, 'invalid_grant', 'unknown refresh token', 'unknown_token');
  }
}

export const refreshRoute: Route = { method: 'POST', path: REFRESH_PATH, limited: true, handle: refresh };
