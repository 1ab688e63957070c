// POST /v1/token: the same rotation as /v1/refresh, as an OAuth 2.0 token endpoint (RFC 6749
// section 6, refresh_token grant, form body) with RFC 9449 DPoP, so a standard OAuth client can
// refresh. Answers per RFC 6749 section 5.1: access_token = the S-CRED (the C-CRED when the
// entry has no S-CRED to give), token_type Bearer (the S-CRED is a bearer WLCG token: the DPoP
// key binds the refresh token, not the access token), expires_in, the rotated refresh_token,
// scope, plus `credentials` (all of them, the C-CRED included). Errors per section 5.2
// (token-checks.ts): 400 with its error codes, and no WWW-Authenticate challenge (RFC 9449
// section 5); 405, 413, 429 and 503 keep their status.
import { readFormBody } from '../http/body.ts';
import { HttpRefusal } from '../http/refusal.ts';
import { Reply, type RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { rotate } from './rotation.ts';
import { mintOrRefuse } from './mint-refusal.ts';
import { asOAuthRefusal, checkRequestedScope, grantedScope, refuseClientAuthentication } from './token-checks.ts';

export const TOKEN_PATH = '/v1/token';

async function token(ctx: RequestContext): Promise<unknown> {
  const form = await readFormBody(ctx.req);
  refuseClientAuthentication(ctx.req.headers.authorization, form);
  const grant = form.get('grant_type');
  if (grant === undefined) throw new HttpRefusal(400, 'invalid_request', 'grant_type is required');
  if (grant !== 'refresh_token') throw new HttpRefusal(400, 'unsupported_grant_type', 'only grant_type=refresh_token is supported');
  const { config } = ctx.service;
  let scope: string | undefined;
  const r = await rotate(ctx, form.get('refresh_token'), TOKEN_PATH, async (entry) => {
    scope = await mintOrRefuse(async () => grantedScope(config, entry));
    checkRequestedScope(form.get('scope'), scope);
  });
  const access = r.credentials.find((c) => c.purpose === 'vo-service') ?? r.credentials[0]!;
  const body = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: Math.max(0, access.expires_at - r.now),
    refresh_token: r.refreshToken,
    ...(access.purpose === 'vo-service' && scope !== undefined ? { scope } : {}),
    credentials: r.credentials,
    refresh_after: r.refreshAfter,
  };
  return new Reply(200, body, { pragma: 'no-cache' });
}

export const tokenRoute: Route = { method: 'POST', path: TOKEN_PATH, limited: true, handle: token, refusal: asOAuthRefusal };
