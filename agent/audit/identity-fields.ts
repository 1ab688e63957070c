// The identity part of an audit record (issue 25): the verified claims and the mapfile line that
// decided the account, or, for a token that could not be verified, only what it claims
// (`verified: false`); the token itself only as its SHA-256 and jti.
import { decodeJwt } from 'jose';
import type { IdentityOutcome } from '../sandbox/identity.ts';
import type { MapRule } from '../sandbox/mapfile.ts';
import { sha256Hex, type AuditRecord } from './audit-record.ts';

export type IdentityFields = Pick<AuditRecord, 'iss' | 'sub' | 'verified' | 'groups' | 'entitlements' | 'mapfile' | 'mapLine' | 'mapRule' | 'tokenSha256' | 'jti'>;

/** A mapfile line as it is written in the mapfile. */
export function ruleText(rule: MapRule): string {
  return rule.text;
}

/** `token`: the job's identity token; `who`: how it was decided (null: not looked at); `mapfile`: the policy's. */
export function identityFields(token: string | null, who: IdentityOutcome | null, mapfile: string | null): IdentityFields {
  const id = who?.identity;
  const rule = who ? (who.ok ? who.rule : (who.rule ?? null)) : null;
  let claimed: { iss?: unknown; sub?: unknown; jti?: unknown } = {};
  try {
    if (token !== null) claimed = decodeJwt(token);
  } catch {
    /* not a JWT: nothing claimed */
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    iss: id?.iss ?? str(claimed.iss), sub: id?.sub ?? str(claimed.sub), verified: id !== undefined && id !== null,
    ...(id && id.groups.length > 0 ? { groups: [...id.groups] } : {}),
    ...(id && id.entitlements.length > 0 ? { entitlements: [...id.entitlements] } : {}),
    mapfile: rule ? mapfile : null, mapLine: rule?.line ?? null, mapRule: rule ? ruleText(rule) : null,
    tokenSha256: token === null ? null : sha256Hex(token), jti: str(claimed.jti),
  };
}
