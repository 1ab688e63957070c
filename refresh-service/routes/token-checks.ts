// What POST /v1/token checks besides the rotation itself, and how it words its refusals: RFC
// 6749 section 5.2 error codes only (plus RFC 9449's invalid_dpop_proof and use_dpop_nonce, the
// codes it registers for the token endpoint), client authentication refused (the endpoint is
// for public clients: token_endpoint_auth_methods_supported ["none"]), and `scope` checked
// against what the refresh token was granted (section 6).
import type { ServiceConfig } from '../config.ts';
import { entryFor } from '../entries/entry-runtime.ts';
import { HttpRefusal } from '../http/refusal.ts';

const OAUTH_ERRORS: ReadonlySet<string> = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_dpop_proof', 'use_dpop_nonce']);
/** Statuses that say more than 400 and keep it: wrong method, body too large, rate limit, IdP outage. */
const KEPT_STATUSES: ReadonlySet<number> = new Set([405, 413, 429, 503]);
/** RFC 6749 section 2.3's ways of presenting a client secret or assertion in the body. */
const CLIENT_CREDENTIAL_PARAMETERS = ['client_secret', 'client_assertion', 'client_assertion_type'] as const;

/**
 * A refusal in RFC 6749 section 5.2 terms: an error code of its own the RFCs do not define
 * (method_not_allowed, payload_too_large, rate_limited, temporarily_unavailable …) becomes
 * invalid_request (the description keeps saying what was wrong); the status is 400 but for
 * the ones in KEPT_STATUSES, and a 401 only for client authentication via a header (the
 * RFC's MUST); Allow and Retry-After are kept, no DPoP challenge is given (RFC 9449 section 5).
 */
export function asOAuthRefusal(e: HttpRefusal): HttpRefusal {
  if (e.error === 'invalid_client') return e;
  const error = OAUTH_ERRORS.has(e.error) ? e.error : 'invalid_request';
  const status = KEPT_STATUSES.has(e.status) ? e.status : 400;
  const { 'www-authenticate': _challenge, ...headers } = e.headers;
  return new HttpRefusal(status, error, e.message, e.outcome, e.retryAfter, headers);
}

/** Refuse any client authentication (a public-client endpoint): invalid_client. */
export function refuseClientAuthentication(authorization: string | undefined, form: ReadonlyMap<string, string>): void {
  if (authorization !== undefined) {
    // Section 5.2: client authentication attempted in the Authorization header gets 401 and a
    // challenge of the scheme the client used.
    const scheme = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,31}(?=\s|$)/.exec(authorization)?.[0] ?? 'Basic';
    throw new HttpRefusal(401, 'invalid_client', `this token endpoint is for public clients (token_endpoint_auth_methods_supported: none): send no Authorization header`, 'invalid_client', undefined, { 'www-authenticate': `${scheme} realm="glidein-refresh-service"` });
  }
  const given = CLIENT_CREDENTIAL_PARAMETERS.find((p) => form.has(p));
  if (given !== undefined) throw new HttpRefusal(400, 'invalid_client', `${given}: this token endpoint is for public clients (token_endpoint_auth_methods_supported: none); send client_id alone or nothing`, 'invalid_client');
}

/** The scope the access token of `entry` is minted with, or undefined when the service does not mint it (a VO or IdP token). */
export function grantedScope(config: ServiceConfig, entry: string): string | undefined {
  const source = entryFor(config, entry).credentials['vo-service'];
  const minted = source === undefined ? config.voCredentials[entry] === undefined : source.source === 'mint';
  return minted ? config.scitoken.scope : undefined;
}

const scopeSet = (scope: string) => new Set(scope.split(' ').filter((s) => s !== ''));

/**
 * RFC 6749 section 6: a requested `scope` may not exceed the granted one (invalid_scope). The
 * granted scope (in any order) is accepted; a narrower one is refused too, since the service
 * mints one scope per config and would otherwise hand out more than was asked for.
 */
export function checkRequestedScope(requested: string | undefined, granted: string | undefined): void {
  if (requested === undefined) return;
  if (granted === undefined) throw new HttpRefusal(400, 'invalid_scope', "scope: this entry's access token comes from its VO or IdP, whose scope the service does not set; omit scope", 'invalid_scope');
  const want = scopeSet(requested);
  const have = scopeSet(granted);
  const extra = [...want].filter((s) => !have.has(s));
  if (extra.length > 0) throw new HttpRefusal(400, 'invalid_scope', `scope: ${extra.join(' ').slice(0, 200)} was not granted (granted: ${granted})`, 'invalid_scope');
  if (want.size < have.size) throw new HttpRefusal(400, 'invalid_scope', `scope: a narrower scope is not issued; omit scope or ask for the granted one (${granted})`, 'invalid_scope');
}
