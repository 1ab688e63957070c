// The site policy (DESIGN.md section 5, contract keys): identity switching mode, helper
// template, mapfile, issuer keys, grace periods. Parsed and defaulted in one place.
import { readJsonFile } from '../../shared/json-file.ts';
import { GlideinError } from '../../shared/errors.ts';
import { parseContainerPolicy, type ContainerPolicy } from './container-policy.ts';
import { parseAuditPolicy, type AuditPolicy } from '../audit/audit-policy.ts';

export type IdentityMode = 'none' | 'setuid' | 'helper';

export interface IssuerPolicy {
  readonly jwksFile: string;
}

export interface Policy {
  readonly identity: IdentityMode;
  /** Helper command template; `{user}` and `{uid}` are replaced by the mapped account. */
  readonly helper: readonly string[];
  readonly mapfile: string | null;
  readonly issuers: Readonly<Record<string, IssuerPolicy>>;
  readonly credentialGraceSeconds: number;
  readonly killGraceSeconds: number;
  /** At most this many helper invocations (launches and kills) at once. */
  readonly helperConcurrency: number;
  /** A helper that has not started the wrapper after this long is a transient failure. */
  readonly helperTimeoutSeconds: number;
  /** Attempts for a transient launch failure (the first included). */
  readonly launchAttempts: number;
  /** Audiences an identity token's `aud` must name one of (required with setuid/helper); null: not checked. */
  readonly audience: readonly string[] | null;
  /** Scope items an identity token's `scope` must all carry (e.g. `compute.create`); empty: not checked. */
  readonly requiredScope: readonly string[];
  /** A spool may run jobs as the pilot's own uid (identity `none`) only when this is true (issue 11 item 7). */
  readonly allowPilotIdentity: boolean;
  /** HTCondor mode: the file (one name) holding a job's identity token, in _CONDOR_CREDS or the job's scratch dir; null: the one *.use file. */
  readonly condorTokenFile: string | null;
  /** A mapfile line HTCondor would skip (with a warning) refuses the whole mapfile instead. */
  readonly strictMapfile: boolean;
  /** Containers (issue 22): runtime, allowed image roots, forced and forbidden binds, test image. */
  readonly containers: ContainerPolicy;
  /** The site's audit records (issue 25): syslog socket, file, required. */
  readonly audit: AuditPolicy;
  /** Where the policy came from, for messages. */
  readonly source: string;
}

export const DEFAULT_HELPER = ['sudo', '-n', '-u', '{user}', '--'] as const;

const KNOWN = new Set([
  'identity', 'helper', 'mapfile', 'issuers', 'credentialGraceSeconds', 'killGraceSeconds', 'helperConcurrency', 'helperTimeoutSeconds', 'launchAttempts',
  'audience', 'requiredScope', 'allowPilotIdentity', 'condorTokenFile', 'containers', 'audit', 'strictMapfile',
]);
const SCOPE_ITEM = /^[\x21-\x7e]{1,256}$/;

function fail(where: string, field: string, expected: string): never {
  throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}: field '${field}' ${expected}`, { details: { field } });
}

function int(where: string, raw: Record<string, unknown>, field: string, dflt: number, min: number, max: number): number {
  const v = raw[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, field, `must be an integer from ${min} to ${max}`);
  return v;
}

function audience(where: string, raw: Record<string, unknown>, identity: IdentityMode): string[] | null {
  const v = raw['audience'];
  if (v === undefined) {
    // Without an audience any token of a trusted issuer, minted for any service, would map a user (issue 11 item 6).
    if (identity !== 'none') fail(where, 'audience', `is required when identity is '${identity}': the audience (string or list) identity tokens must be issued for`);
    return null;
  }
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > 64 || list.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 1024)) {
    fail(where, 'audience', 'must be a non-empty string or a non-empty list of non-empty strings');
  }
  return [...(list as string[])];
}

function requiredScope(where: string, raw: Record<string, unknown>): string[] {
  const v = raw['requiredScope'];
  if (v === undefined || v === null) return [];
  const items = typeof v === 'string' ? v.split(' ').filter((x) => x !== '') : [];
  if (typeof v !== 'string' || items.length === 0 || items.some((x) => !SCOPE_ITEM.test(x))) {
    fail(where, 'requiredScope', "must be a space-separated string of scope items (e.g. 'compute.create')");
  }
  return items;
}

/** Check a policy object from untrusted input. `where` names the file in messages. */
export function parsePolicy(value: unknown, where = 'policy'): Policy {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, '(root)', 'must be a JSON object');
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) fail(where, k, 'is not a policy field');

  const identity = raw['identity'] ?? 'none';
  if (identity !== 'none' && identity !== 'setuid' && identity !== 'helper') fail(where, 'identity', "must be 'none', 'setuid' or 'helper'");

  let helper: string[] = [...DEFAULT_HELPER];
  if (raw['helper'] !== undefined) {
    const h = raw['helper'];
    if (!Array.isArray(h) || h.length === 0 || h.length > 64 || h.some((x) => typeof x !== 'string' || x.length === 0 || x.includes('\0'))) {
      fail(where, 'helper', 'must be a non-empty array of non-empty strings (the helper command template)');
    }
    helper = [...(h as string[])];
  }
  if (!helper[0]!.startsWith('/') && !/^[A-Za-z0-9._-]+$/.test(helper[0]!)) fail(where, 'helper[0]', 'must be a program name or an absolute path');
  if (identity === 'helper' && !helper.some((a) => a.includes('{user}') || a.includes('{uid}'))) {
    fail(where, 'helper', "must name the target account with '{user}' or '{uid}'");
  }

  const mapfile = raw['mapfile'] ?? null;
  if (mapfile !== null && (typeof mapfile !== 'string' || !mapfile.startsWith('/'))) fail(where, 'mapfile', 'must be an absolute path or null');
  if (identity !== 'none' && mapfile === null) fail(where, 'mapfile', `is required when identity is '${identity}'`);

  const issuersRaw = raw['issuers'] ?? {};
  if (issuersRaw === null || typeof issuersRaw !== 'object' || Array.isArray(issuersRaw)) fail(where, 'issuers', 'must be an object of issuer URL → {"jwksFile": PATH}');
  const issuers: Record<string, IssuerPolicy> = {};
  for (const [iss, v] of Object.entries(issuersRaw as Record<string, unknown>)) {
    if (iss.length === 0) fail(where, 'issuers', 'has an empty issuer name');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(where, `issuers.${iss}`, 'must be an object {"jwksFile": PATH}');
    const entry = v as Record<string, unknown>;
    for (const k of Object.keys(entry)) if (k !== 'jwksFile') fail(where, `issuers.${iss}.${k}`, 'is not an issuer field (jwksFile)');
    const f = entry['jwksFile'];
    if (typeof f !== 'string' || !f.startsWith('/')) fail(where, `issuers.${iss}.jwksFile`, 'must be an absolute path');
    issuers[iss] = { jwksFile: f };
  }
  if (identity !== 'none' && Object.keys(issuers).length === 0) fail(where, 'issuers', `must name at least one issuer when identity is '${identity}'`);
  const allowPilotIdentity = raw['allowPilotIdentity'] ?? false;
  if (typeof allowPilotIdentity !== 'boolean') fail(where, 'allowPilotIdentity', 'must be true or false');
  const strictMapfile = raw['strictMapfile'] ?? false;
  if (typeof strictMapfile !== 'boolean') fail(where, 'strictMapfile', 'must be true or false');
  const condorTokenFile = raw['condorTokenFile'] ?? null;
  if (condorTokenFile !== null && (typeof condorTokenFile !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(condorTokenFile))) {
    fail(where, 'condorTokenFile', "must be one file name (letters, digits, '.', '_', '-'; no '/')");
  }

  return {
    identity,
    helper,
    mapfile: mapfile as string | null,
    issuers,
    credentialGraceSeconds: int(where, raw, 'credentialGraceSeconds', 300, 0, 7 * 24 * 3600),
    killGraceSeconds: int(where, raw, 'killGraceSeconds', 20, 0, 3600),
    helperConcurrency: int(where, raw, 'helperConcurrency', 4, 1, 256),
    helperTimeoutSeconds: int(where, raw, 'helperTimeoutSeconds', 30, 1, 3600),
    launchAttempts: int(where, raw, 'launchAttempts', 3, 1, 10),
    audience: audience(where, raw, identity),
    requiredScope: requiredScope(where, raw),
    allowPilotIdentity,
    condorTokenFile: condorTokenFile as string | null,
    strictMapfile,
    containers: parseContainerPolicy(raw['containers'], where),
    audit: parseAuditPolicy(raw['audit'], where, identity !== 'none'),
    source: where,
  };
}

/** The policy of `path`, or the default (`identity: none`) when no path is given. */
export async function loadPolicy(path?: string): Promise<Policy> {
  if (path === undefined) return parsePolicy({}, 'default policy');
  return parsePolicy(await readJsonFile(path, { code: 'GLIDEIN_ERR_POLICY', what: 'policy file', maxBytes: 1024 * 1024 }), path);
}

/** The helper argv for `user`: the template with `{user}`/`{uid}` replaced. */
export function expandHelper(policy: Policy, user: { name: string; uid: number }): string[] {
  return policy.helper.map((a) => a.replaceAll('{user}', user.name).replaceAll('{uid}', String(user.uid)));
}

/**
 * A spool runs jobs from whoever can write its directory. In `none` mode they run as the pilot,
 * which can read the pilot's refresh token and DPoP key, so that must be asked for knowingly
 * (`"allowPilotIdentity": true`, issue 11 item 7). Returns the warning to log when it is.
 */
export function checkSpoolPolicy(policy: Policy): string | null {
  if (policy.identity !== 'none') return null;
  if (!policy.allowPilotIdentity) {
    fail(policy.source, 'identity', "is 'none': spool jobs would run as the pilot's own uid and could read its refresh token and DPoP key; use 'setuid' or 'helper', or add \"allowPilotIdentity\": true to accept that");
  }
  return "spool jobs run as the pilot's own uid (policy identity 'none', allowPilotIdentity true): a job can read the pilot's refresh token and DPoP key";
}
