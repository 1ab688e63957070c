// From a job's identity token to a local account (DESIGN.md section 7.1): the signature, exp and
// nbf are checked with jose against the policy's issuer keys, `aud` and `scope` against the
// policy's `audience` and `requiredScope`, then the claims go through the mapfile. Anything
// unverifiable or unmapped is refused: a job never runs under a guessed account.
import { jwtVerify, decodeJwt, type JWTPayload } from 'jose';
import { loadIssuerKeys } from './jwks-file.ts';
import type { Policy } from './policy.ts';
import { loadMapfile, mapClaims, type MapRule, type TokenClaims } from './mapfile.ts';
import { lookupAccount, privilegedAccountReason, type Account } from './account.ts';
import { launchError, type LaunchError } from './launch-error.ts';

/** The claims of a verified identity token that mapping uses. */
export type VerifiedIdentity = TokenClaims;

/** `rule`: the mapfile line that gave the account; a refusal after verification names the `identity` (the site's audit record, issue 25). */
export type IdentityOutcome = { ok: true; identity: VerifiedIdentity | null; account: Account | null; rule: MapRule | null } | { ok: false; error: LaunchError; identity?: VerifiedIdentity; rule?: MapRule };

const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA'];

const show = (v: unknown) => JSON.stringify(v).slice(0, 200);

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function scopeItems(payload: JWTPayload): string[] {
  return typeof payload['scope'] === 'string' ? payload['scope'].split(' ').filter((x) => x !== '') : [];
}

function claimsOf(iss: string, sub: string, payload: JWTPayload): TokenClaims {
  return { iss, sub, groups: strings(payload['wlcg.groups']), entitlements: strings(payload['eduperson_entitlement']), scopes: scopeItems(payload) };
}

/** A token for another service must not map a user here (issue 11 item 6). */
function audienceProblem(payload: JWTPayload, policy: Policy): string | null {
  if (policy.audience === null) return null;
  if (payload.aud === undefined) return `identity token has no aud claim; the policy's audience is ${show(policy.audience)}`;
  const aud = strings(payload.aud);
  if (aud.some((a) => policy.audience!.includes(a))) return null;
  return `identity token aud claim ${show(payload.aud)} names none of the policy's audience ${show(policy.audience)}`;
}

function scopeProblem(payload: JWTPayload, policy: Policy): string | null {
  if (policy.requiredScope.length === 0) return null;
  const have = scopeItems(payload);
  const missing = policy.requiredScope.filter((s) => !have.includes(s));
  if (missing.length === 0) return null;
  const seen = payload['scope'] === undefined ? 'has no scope claim' : `scope claim lacks ${show(missing.join(' '))}`;
  return `identity token ${seen}; the policy's requiredScope is ${show(policy.requiredScope.join(' '))}`;
}

/** Verify the token against the issuer's keys; a reason when it cannot be trusted. */
export async function verifyIdentityToken(token: string, policy: Policy): Promise<{ ok: true; identity: VerifiedIdentity } | { ok: false; reason: string }> {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return { ok: false, reason: 'identity token is not a well-formed JWT' };
  }
  if (typeof iss !== 'string' || !Object.hasOwn(policy.issuers, iss)) {
    return { ok: false, reason: `identity token issuer ${JSON.stringify(String(iss)).slice(0, 200)} is not trusted by the policy` };
  }
  let keys;
  try {
    keys = await loadIssuerKeys(policy.issuers[iss]!.jwksFile);
  } catch (e) {
    return { ok: false, reason: `cannot load the keys of issuer ${iss} (${(e as Error).message})` };
  }
  try {
    const { payload } = await jwtVerify(token, keys, { issuer: iss, algorithms: ALGORITHMS, clockTolerance: 5 });
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) return { ok: false, reason: 'identity token has no sub claim' };
    if (typeof payload.exp !== 'number') return { ok: false, reason: 'identity token has no exp claim' };
    const refused = audienceProblem(payload, policy) ?? scopeProblem(payload, policy);
    if (refused) return { ok: false, reason: refused };
    return { ok: true, identity: claimsOf(iss, payload.sub, payload) };
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'ERR_JWT_INVALID';
    return { ok: false, reason: `identity token failed verification (${code}: ${(e as Error).message})` };
  }
}

/**
 * Decide the account a job runs as. `none` mode runs as the agent itself (a given identity
 * is still verified when the policy names issuers); `setuid` and `helper` need a verified,
 * mapped, existing, non-root account.
 */
export async function resolveIdentity(token: string | null, policy: Policy): Promise<IdentityOutcome> {
  if (policy.identity === 'none') {
    if (token === null || Object.keys(policy.issuers).length === 0) return { ok: true, identity: null, account: null, rule: null };
    const v = await verifyIdentityToken(token, policy);
    if (!v.ok) return { ok: false, error: launchError('identity', 'UNVERIFIED', v.reason, true) };
    return { ok: true, identity: v.identity, account: null, rule: null };
  }
  if (token === null) return { ok: false, error: launchError('identity', 'NO_IDENTITY', `the job has no identity token; policy mode '${policy.identity}' needs one`, true) };
  const v = await verifyIdentityToken(token, policy);
  if (!v.ok) return { ok: false, error: launchError('identity', 'UNVERIFIED', v.reason, true) };
  const mapfile = await loadMapfile(policy.mapfile!, { strict: policy.strictMapfile });
  const mapping = mapClaims(mapfile, v.identity);
  if (mapping === null) {
    return { ok: false, identity: v.identity, error: launchError('identity', 'UNMAPPED', `identity ${v.identity.iss},${v.identity.sub} matches no line of the mapfile ${policy.mapfile}`, true) };
  }
  const { rule, account: name } = mapping;
  if (name === null) {
    const where = `${mapping.rule.file}:${mapping.rule.line}`;
    const canonical = mapping.canonical === null ? 'an account field ending in a lone backslash' : JSON.stringify(mapping.canonical);
    return { ok: false, identity: v.identity, rule, error: launchError('identity', 'NO_ACCOUNT', `identity ${v.identity.iss},${v.identity.sub} maps (${where}) to ${canonical}, which is not a local account name`, true) };
  }
  const account = await lookupAccount(name);
  if (!account) return { ok: false, identity: v.identity, rule, error: launchError('identity', 'NO_ACCOUNT', `mapped account '${name}' does not exist on this node`, true) };
  const privileged = privilegedAccountReason(account);
  if (privileged) return { ok: false, identity: v.identity, rule, error: launchError('identity', 'ROOT_REFUSED', `mapped account '${name}' ${privileged}; payloads never run as root or group root`, true) };
  return { ok: true, identity: v.identity, account, rule };
}

/** iss and sub of a token without checking it (for matching credential updates only). */
export function unverifiedSubject(token: string): { iss: string; sub: string } | null {
  try {
    const c = decodeJwt(token);
    return typeof c.iss === 'string' && typeof c.sub === 'string' ? { iss: c.iss, sub: c.sub } : null;
  } catch {
    return null;
  }
}
