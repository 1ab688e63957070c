// One refresh-token rotation, shared by POST /v1/refresh (the contract) and POST /v1/token (OAuth
// 2.0): cheap refusals first (malformed, unknown, revoked or expired token: no crypto at all),
// then the DPoP proof for the endpoint's URL, then the store's decision, committed before the
// caller answers. Credentials are minted before the commit, so a committed rotation always has
// an answer to send.
import { mintCredentials, nextRefreshAt, type WireCredential } from '../mint.ts';
import { mintOrRefuse } from './mint-refusal.ts';
import { REFRESH_TOKEN_PATTERN, hashRefreshToken, newRefreshToken } from '../refresh-token.ts';
import type { TokenPeek } from '../state/store.ts';
import { STALE_PROOF_DESCRIPTION, WRONG_KEY_DESCRIPTION } from '../../shared/protocol.ts';
import { HttpRefusal } from '../http/refusal.ts';
import type { RequestContext, VerifiedProof } from '../http/request-context.ts';

export interface Rotation {
  refreshToken: string;
  credentials: WireCredential[];
  /** Unix seconds of the decision. */
  now: number;
  /** When the pilot should refresh next (60 % into the shortest credential's life). */
  refreshAfter: number;
}

/** The token of a family that exists, is not revoked and not expired (else a refusal). */
async function knownToken(ctx: RequestContext, token: unknown): Promise<{ hash: string; peek: TokenPeek }> {
  if (typeof token !== 'string' || !REFRESH_TOKEN_PATTERN.test(token)) throw new HttpRefusal(400, 'invalid_request', 'refresh_token: expected an opaque base64url token');
  const hash = hashRefreshToken(token);
  const peek = await ctx.service.store.peekToken(hash);
  if (!peek) throw new HttpRefusal(401, 'invalid_grant', 'unknown refresh token', 'unknown_token');
  ctx.info.glideinId = peek.family.glideinId;
  ctx.info.entry = peek.family.entry;
  if (peek.family.revokedAt !== null) throw new HttpRefusal(401, 'invalid_grant', 'the glidein is revoked', 'revoked');
  if (peek.family.expiresAt <= ctx.service.now()) throw new HttpRefusal(401, 'invalid_grant', 'the glidein has passed its maximum lifetime', 'expired');
  return { hash, peek };
}

/** Whether the store may hand out a successor (so credentials are worth minting first). */
function mayRotate(peek: TokenPeek, proof: VerifiedProof, graceSeconds: number): boolean {
  const keyOk = peek.family.jkt === null || peek.family.jkt === proof.jkt;
  const inGrace = peek.spentAt !== null && graceSeconds > 0 && peek.spentAt >= proof.now - graceSeconds;
  return keyOk && (!peek.spent || inGrace);
}

/**
 * A spent token the bound key may have again (a lost answer) is a re-grant: beyond its own
 * limit per token and key (REGRANT_LIMIT), 429 with nothing minted or spent, a security event in the console's
 * Security table and glidein_refresh_regrants_limited_total. One key re-presenting its spent
 * token again and again cannot store what it is given (a full disk) or is not the pilot.
 */
function limitRegrants(ctx: RequestContext, tokenHash: string, jkt: string): void {
  // Only real re-grants are charged (chargeRegrant, after the store said 'regranted'): a
  // presentation refused as stale_proof or revoked as reuse minted nothing, and charging it let
  // a pilot's same-second retries of a lost answer use up its re-grants before it got one.
  const wait = ctx.service.limits.regrant.check(regrantKey(tokenHash, jkt));
  if (wait === 0) return;
  ctx.service.metrics.regrantsLimited++;
  ctx.security('re-grant storm: a spent refresh token presented again and again by the bound key; refused (rate limited)', { jkt, remote: ctx.remote });
  throw new HttpRefusal(429, 'rate_limited', 'too many re-grants of a spent refresh token for this glidein: keep the refresh token each answer gives', 'regrant_limited', wait);
}

const regrantKey = (tokenHash: string, jkt: string) => `${tokenHash} ${jkt}`;

/** One re-grant of `tokenHash` to `jkt` was made: it counts against REGRANT_LIMIT. */
function chargeRegrant(ctx: RequestContext, tokenHash: string, jkt: string): void {
  ctx.service.limits.regrant.take(regrantKey(tokenHash, jkt));
}

/**
 * Rotate `token` for a request to `path` (the DPoP htu); every refusal is an HttpRefusal.
 * `vet` may refuse the request for the token's entry before the proof is checked (nothing spent).
 */
export async function rotate(ctx: RequestContext, token: unknown, path: string, vet?: (entry: string) => Promise<void>): Promise<Rotation> {
  const { store, keys, mint, log, metrics, config } = ctx.service;
  const { hash: oldHash, peek } = await knownToken(ctx, token);
  await vet?.(peek.family.entry);
  // A refused proof returns here: nothing is spent, nothing revoked.
  const proof = await ctx.proof(path);
  ctx.limitFamily(peek.family.glideinId, proof.jkt);
  const now = proof.now;
  const graceSeconds = config.rotationGraceSeconds;
  const usable = mayRotate(peek, proof, graceSeconds);
  if (usable && peek.spent) limitRegrants(ctx, oldHash, proof.jkt);
  if (usable) mint.signingKeys = await keys.fresh();
  const credentials = usable ? await mintOrRefuse(() => mintCredentials(mint, { glideinId: peek.family.glideinId, entry: peek.family.entry, now, familyExpiresAt: peek.family.expiresAt })) : [];
  const next = usable ? newRefreshToken() : null;
  // A client that gave up (timed out) will retry with the same token: committing its abandoned
  // request now could supersede the successor that retry already received.
  if (ctx.clientGone) throw new HttpRefusal(400, 'invalid_request', 'the client closed the connection before the rotation', 'client_gone');
  const outcome = await store.settleRefresh({ oldHash, newHash: next === null ? null : hashRefreshToken(next), jkt: proof.jkt, jti: proof.jti, jtiExpiresAt: proof.jtiExpiresAt, proofIat: proof.iat, now, graceSeconds });
  switch (outcome.kind) {
    case 'rotated':
    case 'regranted': {
      if (outcome.kind === 'rotated' && outcome.bound) log.info('refresh family bound to DPoP key', { glidein_id: outcome.family.glideinId, entry: outcome.family.entry, jkt: proof.jkt });
      if (outcome.kind === 'regranted') {
        chargeRegrant(ctx, oldHash, proof.jkt);
        metrics.regrants++;
        log.warn('spent refresh token presented again by the bound key within the grace window: successor replaced (lost answer)', { glidein_id: outcome.family.glideinId, entry: outcome.family.entry });
      }
      ctx.info.outcome = outcome.kind;
      return { refreshToken: next!, credentials, now, refreshAfter: nextRefreshAt(now, credentials) };
    }
    case 'replayed_jti':
      ctx.security('DPoP proof replayed', { reason: 'jti seen before' });
      throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP proof jti was used before');
    case 'wrong_key':
      ctx.security('DPoP proof from a key the family is not bound to', { jkt: proof.jkt, spent: peek.spent, remote: ctx.remote });
      throw new HttpRefusal(401, 'invalid_dpop_proof', WRONG_KEY_DESCRIPTION, 'wrong_key');
    case 'first_token_reuse':
      // Two parties read the bundle before its first use (issue 21 item 4): whichever came
      // second, the family ends now, and the first one's credentials at their expiry.
      metrics.firstTokenReuse++;
      ctx.security('first token used by two keys: family revoked', { jkt: proof.jkt, bound_jkt: peek.family.jkt, remote: ctx.remote });
      throw new HttpRefusal(401, 'invalid_grant', 'first token used by two keys: another DPoP key refreshed this bundle first; the glidein is revoked', 'first_token_reuse');
    case 'stale_proof':
      // A slower request for a token that a newer proof already refreshed (another instance, a
      // client retry): the newer answer stands; nothing is spent or revoked (issue 26 item 7).
      log.warn('refresh with a proof no newer than the one already answered for this token: refused, the newer answer stands', { glidein_id: outcome.family.glideinId, entry: outcome.family.entry });
      throw new HttpRefusal(401, 'invalid_grant', STALE_PROOF_DESCRIPTION, 'stale_proof');
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
