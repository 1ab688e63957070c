// POST /v1/refresh (DESIGN.md section 9, contract): a single-use refresh token (JSON body) and a
// DPoP proof in; fresh credentials, the next token and when to refresh again out.
import { REFRESH_PATH } from '../../shared/protocol.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { rotate } from './rotation.ts';

async function refresh(ctx: RequestContext): Promise<unknown> {
  const body = await ctx.jsonBody();
  const r = await rotate(ctx, body['refresh_token'], REFRESH_PATH);
  return { refresh_token: r.refreshToken, credentials: r.credentials, refresh_after: r.refreshAfter };
}

export const refreshRoute: Route = { method: 'POST', path: REFRESH_PATH, limited: true, handle: refresh };
