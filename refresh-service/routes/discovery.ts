// The issuer's public documents: GET /.well-known/jwks.json (the S-CRED verification keys), and
// the metadata at /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
import { DPOP_ALGORITHMS } from '../dpop-verify.ts';
import { TOKEN_PATH } from './token.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

async function jwks(ctx: RequestContext): Promise<unknown> {
  return { keys: (await ctx.service.keys.fresh()).published.map((k) => k.publicJwk) };
}

/**
 * Authorization server metadata (RFC 8414; also served as the OpenID discovery document that
 * WLCG token verifiers read): only what the service does. The keys and the token endpoint are
 * where this service answers (publicUrl), whatever `issuer` says.
 */
async function metadata(ctx: RequestContext): Promise<unknown> {
  const { issuer, publicUrl } = ctx.service;
  return {
    issuer,
    jwks_uri: `${publicUrl}/.well-known/jwks.json`,
    token_endpoint: `${publicUrl}${TOKEN_PATH}`,
    grant_types_supported: ['refresh_token'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}

export const discoveryRoutes: Route[] = [
  { method: 'GET', path: '/.well-known/jwks.json', limited: false, handle: jwks },
  { method: 'GET', path: '/.well-known/openid-configuration', limited: false, handle: metadata },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', limited: false, handle: metadata },
];
