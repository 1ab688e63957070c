// Minting the credentials a pilot receives: the C-CRED (HTCondor IDTOKEN from the POOL key) and
// the S-CRED (WLCG-profile JWT, ES256) or, for a VO group, the latest token the VO pushed.
import { randomBytes } from 'node:crypto';
import { IDTOKEN_SCOPES_PILOT, signIdtoken, type SigningKeyFile } from '../shared/idtoken.ts';
import type { ServiceConfig } from './config.ts';
import { signEs256, type SigningKeySet } from './signing-keys.ts';
import type { StateStore } from './state/store.ts';

export interface MintContext {
  config: ServiceConfig;
  /** The S-CRED issuer actually in use (config issuer, else the public URL). */
  issuer: string;
  poolKey: SigningKeyFile;
  signingKeys: SigningKeySet;
  store: StateStore;
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

export function mintIdtoken(ctx: MintContext, r: MintRequest): WireCredential {
  const exp = Math.min(r.now + ctx.config.idtokenLifetime, r.familyExpiresAt);
  const token = signIdtoken(ctx.poolKey, {
    iss: ctx.config.trustDomain,
    sub: `${r.entry}@${ctx.config.trustDomain}`,
    iat: r.now,
    exp,
    scope: IDTOKEN_SCOPES_PILOT,
  });
  return { type: 'idtoken', purpose: 'collector', token, expires_at: exp, trust_domain: ctx.config.trustDomain };
}

export function mintScitoken(ctx: MintContext, r: MintRequest): WireCredential {
  const exp = Math.min(r.now + ctx.config.scitokenLifetime, r.familyExpiresAt);
  const claims = {
    'wlcg.ver': '1.0',
    iss: ctx.issuer,
    sub: `${r.entry}@${ctx.config.trustDomain}`,
    aud: ctx.config.scitoken.audience,
    scope: ctx.config.scitoken.scope,
    iat: r.now,
    nbf: r.now,
    exp,
    jti: randomBytes(16).toString('hex'),
  };
  const token = signEs256(ctx.signingKeys.active, { typ: 'JWT' }, claims);
  return { type: 'scitoken', purpose: 'vo-service', token, expires_at: exp };
}

/**
 * The credentials for one pilot: a fresh C-CRED, and the S-CRED (minted, or the VO's pushed
 * token when the entry is mapped to a VO credential; none if that one is missing or expired,
 * so the pilot keeps its current S-CRED rather than getting a token the VO did not issue).
 * A pushed token that expires after the family is not handed out either (issue 11 item 15): we
 * cannot shorten a token the VO signed, and a pilot's credentials never outlive the pilot.
 */
export async function mintCredentials(ctx: MintContext, r: MintRequest): Promise<WireCredential[]> {
  const out = [mintIdtoken(ctx, r)];
  const voName = ctx.config.voCredentials[r.entry];
  if (voName === undefined) {
    out.push(mintScitoken(ctx, r));
  } else {
    const vo = await ctx.store.getVoCredential(voName, r.now);
    if (vo && vo.expiresAt <= r.familyExpiresAt) out.push({ type: 'scitoken', purpose: 'vo-service', token: vo.token, expires_at: vo.expiresAt });
  }
  return out;
}
