// Minting the credentials a pilot receives: the C-CRED (HTCondor IDTOKEN from its entry's POOL
// key, `iss` its entry's trust domain), the CE-CRED when the entry asks for one, and the S-CRED
// (WLCG-profile JWT, ES256) or, per the entry's credential sources, the latest token the VO
// pushed or an IdP's client-credentials token.
import { IDTOKEN_SCOPES_PILOT, signIdtoken, type SigningKeyFile } from '../shared/idtoken.ts';
import type { ServiceConfig } from './config.ts';
import { signEs256, type SigningKeySet } from './signing-keys.ts';
import type { StateStore } from './state/store.ts';
import { randomString } from './random-pool.ts';
import { entryFor, type EntryRuntime } from './entries/entry-runtime.ts';
import type { CredentialSource, EntryConfig } from './entries/entry-config.ts';

export interface MintContext {
  config: ServiceConfig;
  /** The S-CRED issuer actually in use (config issuer, else the public URL). */
  issuer: string;
  poolKey: SigningKeyFile;
  signingKeys: SigningKeySet;
  store: StateStore;
  /** Entry POOL keys and IdP token sources; absent: only the top-level POOL key (no entries). */
  entries?: EntryRuntime;
}

export interface WireCredential {
  type: 'idtoken' | 'scitoken';
  purpose: string;
  token: string;
  expires_at: number;
  trust_domain?: string;
}

export interface MintRequest {
  glideinId: string;
  entry: string;
  now: number;
  /** No credential outlives the pilot's family. */
  familyExpiresAt: number;
}

/** When a pilot given `credentials` at `now` refreshes next (60 % into the shortest life). */
export function nextRefreshAt(now: number, credentials: readonly WireCredential[]): number {
  const soonest = Math.min(...credentials.map((c) => c.expires_at));
  return now + Math.max(1, Math.floor((soonest - now) * 0.6));
}

function poolKeyFor(ctx: MintContext, path: string): SigningKeyFile {
  return path === ctx.config.poolSigningKeyFile || ctx.entries === undefined ? ctx.poolKey : ctx.entries.poolKey(path);
}

/** An HTCondor IDTOKEN for `trustDomain`, signed with that domain's POOL key. */
function idtoken(ctx: MintContext, r: MintRequest, purpose: string, d: { trustDomain: string; poolSigningKeyFile: string; scope: string }): WireCredential {
  const exp = Math.min(r.now + ctx.config.idtokenLifetime, r.familyExpiresAt);
  const token = signIdtoken(poolKeyFor(ctx, d.poolSigningKeyFile), {
    iss: d.trustDomain,
    sub: `${r.entry}@${d.trustDomain}`,
    iat: r.now,
    exp,
    scope: d.scope,
    jti: randomString(16, 'hex'),
  });
  return { type: 'idtoken', purpose, token, expires_at: exp, trust_domain: d.trustDomain };
}

export function mintIdtoken(ctx: MintContext, r: MintRequest, entry: EntryConfig = entryFor(ctx.config, r.entry)): WireCredential {
  return idtoken(ctx, r, 'collector', { ...entry, scope: IDTOKEN_SCOPES_PILOT });
}

export function mintScitoken(ctx: MintContext, r: MintRequest, entry: EntryConfig = entryFor(ctx.config, r.entry)): WireCredential {
  const exp = Math.min(r.now + ctx.config.scitokenLifetime, r.familyExpiresAt);
  const claims = {
    'wlcg.ver': '1.0',
    iss: ctx.issuer,
    sub: `${r.entry}@${entry.trustDomain}`,
    aud: ctx.config.scitoken.audience,
    scope: ctx.config.scitoken.scope,
    iat: r.now,
    nbf: r.now,
    exp,
    jti: randomString(16, 'hex'),
  };
  const token = signEs256(ctx.signingKeys.active, { typ: 'JWT' }, claims);
  return { type: 'scitoken', purpose: 'vo-service', token, expires_at: exp };
}

/** The source of each non-C-CRED purpose: the entry's, else today's (vo-service minted, or the entry's VO push). */
function sourcesOf(ctx: MintContext, entry: EntryConfig, name: string): [string, CredentialSource][] {
  const out = Object.entries(entry.credentials).filter(([purpose]) => purpose !== 'collector');
  if (!('vo-service' in entry.credentials)) {
    const voName = ctx.config.voCredentials[name];
    out.unshift(['vo-service', voName === undefined ? { source: 'mint' } : { source: 'forward', name: voName }]);
  }
  return out;
}

/**
 * One credential from its source, or none. A pushed VO token or an IdP token is handed out only
 * while valid and only if it does not outlive the family (issue 11 item 15): we cannot shorten a
 * token someone else signed, and a pilot's credentials never outlive the pilot. An IdP token is
 * one that stays valid past `validUntil` (the pilot's next refresh) whenever the IdP can give one.
 */
async function fromSource(ctx: MintContext, r: MintRequest, entry: EntryConfig, purpose: string, s: CredentialSource, validUntil: number): Promise<WireCredential | undefined> {
  if (s.source === 'mint') return mintScitoken(ctx, r, entry);
  if (s.source === 'forward') {
    const vo = await ctx.store.getVoCredential(s.name, r.now);
    return vo && vo.expiresAt <= r.familyExpiresAt ? { type: 'scitoken', purpose, token: vo.token, expires_at: vo.expiresAt } : undefined;
  }
  if (ctx.entries === undefined) throw new Error(`entry '${r.entry}': no IdP runtime for ${purpose}`);
  const t = await ctx.entries.idp(s.idp).token(r.now, validUntil, ctx.store);
  return t.expiresAt <= r.familyExpiresAt ? { type: 'scitoken', purpose, token: t.token, expires_at: t.expiresAt } : undefined;
}

/**
 * The credentials for one pilot: a fresh C-CRED (and CE-CRED), then one per credential source
 * (none for a source with nothing valid to give, so the pilot keeps its current one rather than
 * getting a token its VO did not issue). Throws EntryNotConfigured, or IdpUnavailable while an
 * IdP is down and its cached token would not last until the pilot's next refresh.
 */
export async function mintCredentials(ctx: MintContext, r: MintRequest): Promise<WireCredential[]> {
  const entry = entryFor(ctx.config, r.entry);
  const out = [mintIdtoken(ctx, r, entry)];
  if (entry.ceCollector) out.push(idtoken(ctx, r, 'ce', entry.ceCollector));
  const validUntil = nextRefreshAt(r.now, out);
  for (const [purpose, source] of sourcesOf(ctx, entry, r.entry)) {
    const c = await fromSource(ctx, r, entry, purpose, source, validUntil);
    if (c) out.push(c);
  }
  return out;
}
