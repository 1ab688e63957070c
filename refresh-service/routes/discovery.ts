// The issuer's public documents: GET /.well-known/jwks.json (the S-CRED verification keys) and
// GET /.well-known/openid-configuration.
import { REFRESH_PATH } from '../../shared/protocol.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

async function jwks(ctx: RequestContext): Promise<unknown> {
  return { keys: (await ctx.service.keys.fresh()).published.map((k) => k.publicJwk) };
}

async function openidConfiguration(ctx: RequestContext): Promise<unknown> {
  const { issuer, publicUrl } = ctx.service;
  return { issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, token_endpoint: `${publicUrl}${REFRESH_PATH}`, dpop_signing_alg_values_supported: ['ES256', 'RS256', 'EdDSA'], id_token_signing_alg_values_supported: ['ES256'] };
}

export const discoveryRoutes: Route[] = [
  { method: 'GET', path: '/.well-known/jwks.json', limited: false, handle: jwks },
  { method: 'GET', path: '/.well-known/openid-configuration', limited: false, handle: openidConfiguration },
];
