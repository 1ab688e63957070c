// GlideinWMS `auth_method` requirements: groups joined by ';' must all be met; alternatives
// inside a group are joined by ','; the first alternative (in written order) that a usable
// credential meets wins. `any` is an empty group, met by anything (including no credential).
// Example: "scitoken,grid_proxy;vmid" = a scitoken or a proxy, and a VM id.
import { GlideinError } from './errors.ts';
import type { Credential, CredentialType } from './credential.ts';
import { isUsable } from './credential.ts';

/** Alternatives that name a credential type. */
const TYPE_METHODS: Readonly<Record<string, readonly CredentialType[]>> = {
  idtoken: ['idtoken'],
  scitoken: ['scitoken', 'jwt'],
  grid_proxy: ['x509_proxy'],
  cert_pair: ['key'],
  key_pair: ['key'],
  auth_file: ['text'],
  username_password: ['text'],
};
/** Alternatives that name a parameter a credential must carry. */
const PARAMETER_METHODS: Readonly<Record<string, string>> = {
  vmid: 'VMId',
  vmtype: 'VMType',
  project_id: 'ProjectId',
};

export const AUTH_METHOD_NAMES: readonly string[] = [...Object.keys(TYPE_METHODS), ...Object.keys(PARAMETER_METHODS), 'any'];

/** Parsed requirement: each inner array is one group of alternatives; an empty group is `any`. */
export type AuthRequirement = readonly (readonly string[])[];

export function parseAuthMethod(text: string): AuthRequirement {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new GlideinError('GLIDEIN_ERR_AUTH_METHOD', 'auth_method is empty; expected e.g. "scitoken,grid_proxy;vmid" or "any"');
  }
  return text.split(';').map((group, gi) => {
    const alternatives = group.split(',').map((a) => a.trim().toLowerCase());
    for (const [ai, alt] of alternatives.entries()) {
      if (alt === '') {
        throw new GlideinError('GLIDEIN_ERR_AUTH_METHOD', `auth_method "${text}": group ${gi + 1} alternative ${ai + 1} is empty`);
      }
      if (!AUTH_METHOD_NAMES.includes(alt)) {
        throw new GlideinError('GLIDEIN_ERR_AUTH_METHOD', `auth_method "${text}": unknown method "${alt}"; expected one of ${AUTH_METHOD_NAMES.join(', ')}`);
      }
    }
    return alternatives.includes('any') ? [] : alternatives;
  });
}

export interface GroupMatch {
  /** The alternative that was chosen, or 'any'. */
  method: string;
  /** The credential that met it (undefined for `any`). */
  credential: Credential | undefined;
}

export type AuthMatch =
  | { ok: true; groups: GroupMatch[] }
  | { ok: false; unmetGroup: number; wanted: readonly string[]; reason: string };

export interface MatchOptions {
  /** Unix seconds. */
  now: number;
  /** A credential must stay valid this many more seconds to count. */
  minLifetime?: number;
}

function meets(alt: string, c: Credential, o: MatchOptions): boolean {
  if (!isUsable(c, o.now, o.minLifetime ?? 0)) return false;
  const types = TYPE_METHODS[alt];
  if (types) return types.includes(c.type);
  const param = PARAMETER_METHODS[alt];
  return param !== undefined && typeof c.parameters?.[param] === 'string' && c.parameters[param] !== '';
}

/** Match credentials against a requirement: every group needs one met alternative. */
export function matchAuthMethod(req: AuthRequirement, credentials: readonly Credential[], options: MatchOptions): AuthMatch {
  const groups: GroupMatch[] = [];
  for (const [gi, group] of req.entries()) {
    if (group.length === 0) {
      groups.push({ method: 'any', credential: undefined });
      continue;
    }
    let found: GroupMatch | undefined;
    for (const alt of group) {
      const credential = credentials.find((c) => meets(alt, c, options));
      if (credential) {
        found = { method: alt, credential };
        break;
      }
    }
    if (!found) {
      const nearMiss = credentials.some((c) => group.some((alt) => meets(alt, c, { now: options.now })));
      return {
        ok: false,
        unmetGroup: gi,
        wanted: group,
        reason: nearMiss
          ? `no credential for ${group.join(' or ')} stays valid for the minimum lifetime of ${options.minLifetime ?? 0} s`
          : `no valid credential for ${group.join(' or ')}`,
      };
    }
    groups.push(found);
  }
  return { ok: true, groups };
}
