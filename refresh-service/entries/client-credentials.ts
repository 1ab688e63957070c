// An S-CRED from an IdP with the OAuth 2.0 client credentials grant (RFC 6749 section 4.4), as
// CMS's 10-minute cron and DIRAC's SiteDirector get theirs: the token endpoint comes from the
// issuer's metadata (OpenID Connect Discovery / RFC 8414), the client authenticates with HTTP
// Basic (client_secret_basic), the audience is asked for as an RFC 8707 resource indicator.
// One token is cached per IdP and replaced after 2/3 of its lifetime, or sooner when it would
// expire before the pilot's next refresh; concurrent callers share one in-flight request. The
// token is also kept in the state store (beside pushed VO tokens, under a name the VO push
// endpoint cannot use), so each `register` process and every instance shares it instead of
// asking the IdP once per pilot.
// While the IdP cannot be reached and the cached token is not good enough, callers get
// IdpUnavailable (the refresh answers 503 temporarily_unavailable with Retry-After).
import { GlideinError } from '../../shared/errors.ts';
import { jwtExpiry } from '../../shared/jwt-decode.ts';
import type { IdpConfig } from './entry-config.ts';
import type { StateStore } from '../state/store.ts';
import { isLoopbackHost } from '../transport-policy.ts';

/** Where a token is shared between processes: the store's VO credential table. */
export type SharedTokenCache = Pick<StateStore, 'getVoCredential' | 'putVoCredential'>;

/** Seconds a pilot is told to wait (Retry-After) while the IdP is down. */
export const IDP_RETRY_AFTER_SECONDS = 30;
const REQUEST_TIMEOUT_MS = 10_000;
/** After a failure, callers within this many ms get the same failure instead of a new request. */
const FAILURE_HOLD_MS = 1_000;

export class IdpUnavailable extends GlideinError {
  readonly idp: string;
  readonly retryAfter = IDP_RETRY_AFTER_SECONDS;
  constructor(idp: string, reason: string, cause?: unknown) {
    super('GLIDEIN_ERR_HTTP', `IdP '${idp}' cannot issue a token now: ${reason}`, { cause });
    this.idp = idp;
  }
}

export interface IdpToken {
  token: string;
  /** Unix seconds. */
  issuedAt: number;
  expiresAt: number;
}

async function getJson(url: string, init: RequestInit, what: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'error' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error(`${what}: HTTP ${res.status}, not a JSON object`);
  const o = body as Record<string, unknown>;
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${typeof o['error'] === 'string' ? o['error'].slice(0, 64) : ''}`.trim());
  return o;
}

/**
 * The token endpoint from the issuer's OpenID Connect metadata. The client secret goes there, so
 * an http:// endpoint is refused unless it is on a loopback address or the config says
 * allowInsecureHttp (the rule every other clear-text URL follows, transport-policy.ts).
 */
async function discoverTokenEndpoint(issuer: string, allowInsecureHttp: boolean): Promise<string> {
  const meta = await getJson(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {}, 'discovery');
  const endpoint = meta['token_endpoint'];
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) throw new Error('discovery: no token_endpoint in the metadata');
  if (!allowInsecureHttp && endpoint.startsWith('http:') && !isLoopbackHost(new URL(endpoint).hostname)) {
    throw new Error(`discovery: token_endpoint '${endpoint.slice(0, 200)}' is http:// to a non-loopback host: the client secret would travel in clear text; the IdP must publish an https:// endpoint, or set "allowInsecureHttp": true in the config to allow it knowingly`);
  }
  return endpoint;
}

export class ClientCredentialsSource {
  readonly name: string;
  readonly #config: IdpConfig;
  readonly #secret: string;
  #endpoint: string | undefined;
  #cached: IdpToken | undefined;
  #inFlight: Promise<IdpToken> | undefined;
  #failure: { at: number; error: IdpUnavailable } | undefined;

  /** '@' is outside VO credential names, so PUT /v1/vo-credentials can never overwrite it. */
  get #sharedName(): string {
    return `@idp:${this.name}`;
  }

  readonly #allowInsecureHttp: boolean;

  /** `allowInsecureHttp`: the service config's key of that name (accept an http:// token endpoint). */
  constructor(name: string, config: IdpConfig, clientSecret: string, allowInsecureHttp = false) {
    this.name = name;
    this.#config = config;
    this.#secret = clientSecret;
    this.#allowInsecureHttp = allowInsecureHttp;
  }

  /**
   * A token that stays valid until `validUntil` if the IdP can give one (the cached token, from
   * memory or else from `shared`, while it is before 2/3 of its life). Throws IdpUnavailable when
   * the IdP fails and no cached token lasts until `validUntil`.
   */
  async token(now: number, validUntil: number, shared?: SharedTokenCache): Promise<IdpToken> {
    const good = (t: IdpToken | undefined) => t !== undefined && now < t.issuedAt + Math.floor(((t.expiresAt - t.issuedAt) * 2) / 3) && t.expiresAt >= validUntil;
    if (this.#cached && good(this.#cached)) return this.#cached;
    const stored = await shared?.getVoCredential(this.#sharedName, now);
    const fromStore: IdpToken | undefined = stored && { token: stored.token, issuedAt: stored.updatedAt, expiresAt: stored.expiresAt };
    if (fromStore && good(fromStore)) return (this.#cached = fromStore);
    const c = this.#cached ?? fromStore;
    try {
      const t = await this.#fetchShared();
      await shared?.putVoCredential({ name: this.#sharedName, token: t.token, expiresAt: t.expiresAt, updatedAt: t.issuedAt });
      return t;
    } catch (e) {
      if (!(e instanceof IdpUnavailable)) throw e;
      if (c && c.expiresAt >= validUntil) return c;
      throw e;
    }
  }

  #fetchShared(): Promise<IdpToken> {
    if (this.#failure && Date.now() - this.#failure.at < FAILURE_HOLD_MS) return Promise.reject(this.#failure.error);
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<IdpToken> {
    try {
      this.#endpoint ??= await discoverTokenEndpoint(this.#config.issuer, this.#allowInsecureHttp);
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (this.#config.scope !== '') form.set('scope', this.#config.scope);
      if (this.#config.audience !== '') form.set('resource', this.#config.audience);
      // RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic encoding.
      const basic = Buffer.from(`${encodeURIComponent(this.#config.clientId)}:${encodeURIComponent(this.#secret)}`).toString('base64');
      const issuedAt = Math.floor(Date.now() / 1000);
      const body = await getJson(this.#endpoint, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() }, 'token request');
      const token = body['access_token'];
      if (typeof token !== 'string' || token === '' || token.length > 64 * 1024) throw new Error('token response: no access_token');
      const t: IdpToken = { token, issuedAt, expiresAt: expiryOf(token, body['expires_in'], issuedAt) };
      this.#cached = t;
      this.#failure = undefined;
      return t;
    } catch (cause) {
      // A failed discovery or a moved endpoint: discover again next time.
      this.#endpoint = undefined;
      const error = new IdpUnavailable(this.name, (cause as Error).message ?? String(cause), cause);
      this.#failure = { at: Date.now(), error };
      throw error;
    }
  }
}

/** The earlier of `expires_in` and the JWT's own `exp` (either may be absent, not both). */
function expiryOf(token: string, expiresIn: unknown, issuedAt: number): number {
  let exp = typeof expiresIn === 'number' && expiresIn > 0 ? issuedAt + Math.floor(expiresIn) : Infinity;
  try {
    const claim = jwtExpiry(token);
    if (claim !== null) exp = Math.min(exp, claim);
  } catch {
    // An opaque access token: expires_in alone.
  }
  if (!Number.isFinite(exp)) throw new Error('token response: neither expires_in nor a JWT exp');
  return exp;
}
