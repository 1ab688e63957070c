// Admin endpoints, authenticated by the bearer token in <state>/admin.token: POST /v1/revoke
// (one glidein or a whole entry) and PUT /v1/vo-credentials/{name} (the VO's latest token).
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { isSafeId } from '../../shared/protocol.ts';
import { VO_CREDENTIAL_NAME } from '../config.ts';
import { HttpRefusal } from '../http/refusal.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

export const REVOKE_PATH = '/v1/revoke';
export const VO_CREDENTIALS_PREFIX = '/v1/vo-credentials/';

const ADMIN_REALM = 'glidein-refresh-service';

/**
 * The 401 challenge (RFC 6750 section 3): no error code when no bearer token was sent,
 * invalid_request for a malformed one, invalid_token for a wrong one.
 */
function bearerChallenge(authorization: string | undefined, wellFormed: boolean): string {
  const challenge = `Bearer realm="${ADMIN_REALM}"`;
  if (!/^Bearer(\s|$)/i.test(authorization ?? '')) return challenge;
  return `${challenge}, error="${wellFormed ? 'invalid_token' : 'invalid_request'}"`;
}

/** Refuse (401) unless the request carries the admin bearer token (compared in constant time). */
export function requireAdmin(ctx: RequestContext): void {
  const authorization = ctx.req.headers.authorization;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(authorization ?? '');
  const given = createHash('sha256').update(m?.[1] ?? '').digest();
  if (!m || !timingSafeEqual(given, ctx.service.adminTokenHash)) {
    ctx.security('admin request with a bad bearer token', { remote: ctx.remote });
    const description = authorization === undefined ? 'admin bearer token required (Authorization: Bearer <contents of <state>/admin.token>)' : m ? 'the admin bearer token is not the one in <state>/admin.token' : 'Authorization: expected Bearer <admin token>';
    throw new HttpRefusal(401, 'unauthorized', description, 'unauthorized', undefined, { 'www-authenticate': bearerChallenge(authorization, m !== null) });
  }
}

async function revoke(ctx: RequestContext): Promise<unknown> {
  requireAdmin(ctx);
  const { store, log } = ctx.service;
  const body = await ctx.jsonBody();
  const id = body['glidein_id'];
  const entry = body['entry'];
  if ((id === undefined) === (entry === undefined)) throw new HttpRefusal(400, 'invalid_request', 'give exactly one of glidein_id or entry');
  const target = id ?? entry;
  if (!isSafeId(target)) throw new HttpRefusal(400, 'invalid_request', `${id !== undefined ? 'glidein_id' : 'entry'}: expected letters, digits, and _.@:-`);
  const now = ctx.service.now();
  const n = id !== undefined ? await store.revokeByGlideinId(target, 'revoked by admin', now) : await store.revokeByEntry(target, 'revoked by admin', now);
  ctx.info.outcome = 'revoked';
  log.info('revoked', id !== undefined ? { glidein_id: target, count: n } : { entry: target, count: n });
  return { revoked: n };
}

async function putVoCredential(ctx: RequestContext, name: string): Promise<unknown> {
  requireAdmin(ctx);
  if (!VO_CREDENTIAL_NAME.test(name)) throw new HttpRefusal(400, 'invalid_request', 'credential name: expected letters, digits, _ . -');
  const body = await ctx.jsonBody();
  const token = body['token'];
  if (typeof token !== 'string') throw new HttpRefusal(400, 'invalid_request', 'token: expected a JWT');
  let exp: unknown;
  try {
    exp = decodeJwtUnverified(token).claims['exp'];
  } catch (e) {
    throw new HttpRefusal(400, 'invalid_request', `token: ${(e as Error).message}`);
  }
  const now = ctx.service.now();
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new HttpRefusal(400, 'invalid_request', 'token: needs a numeric exp');
  if (exp <= now) throw new HttpRefusal(400, 'invalid_request', 'token: already expired');
  await ctx.service.store.putVoCredential({ name, token: token.trim(), expiresAt: Math.floor(exp), updatedAt: now });
  ctx.info.outcome = 'stored';
  ctx.service.log.info('VO credential stored', { name, expiresAt: Math.floor(exp) });
  return { name, expires_at: Math.floor(exp) };
}

export const adminRoutes: Route[] = [
  { method: 'POST', path: REVOKE_PATH, limited: true, handle: revoke },
  { method: 'PUT', path: VO_CREDENTIALS_PREFIX, prefix: true, limited: true, handle: putVoCredential },
];
