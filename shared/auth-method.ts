// GlideinWMS `auth_method` requirements, evaluated as GlideinWMS 3.11 does (issue 24 section 2;
// lib/credentials/utils.py AuthenticationMethod.load/match, run on a table of inputs):
// - `;` and `+` join groups that must all be met; `,` joins the alternatives of a group;
// - a name is matched ignoring case but not trimmed (" scitoken" is unknown), and each has
//   GlideinWMS's aliases (grid_proxy = x509_cert, cert_pair = x509_pair, vm_id = vmid, …);
// - an alternative is met by a valid credential of exactly that kind (a generic JWT, GlideinWMS's
//   `token`, does not meet `scitoken`; `key_pair` does not meet `cert_pair`; `auth_file` is a
//   text credential, `username_password` a pair) or by a parameter of that name, whatever its
//   value (an empty one included);
// - `any` is only a whole group; the first alternative, in written order, that is met wins.
// Where GlideinWMS is plainly broken glidein does what it evidently means (README "auth_method"):
// its `any` group never matches (an empty list of options), and its X509 credential is never
// valid (X509Cert.invalid_reason has no path that returns None).
import { GlideinError } from './errors.ts';
import type { Credential, CredentialType } from './credential.ts';
import { isUsable } from './credential.ts';

/** GlideinWMS's credential and credential-pair types, by every name its from_string accepts. */
const CREDENTIAL_KINDS: Readonly<Record<string, string>> = {
  token: 'token',
  scitoken: 'scitoken',
  idtoken: 'idtoken',
  x509_cert: 'x509_cert',
  grid_proxy: 'x509_cert',
  rsa_public_key: 'rsa_public_key',
  rsa_key: 'rsa_public_key',
  rsa_private_key: 'rsa_private_key',
  symmetric_key: 'symmetric_key',
  dynamic: 'dynamic',
  generator: 'dynamic',
  text: 'text',
  auth_file: 'text',
  x509_pair: 'x509_pair',
  cert_pair: 'x509_pair',
  key_pair: 'key_pair',
  username_password: 'username_password',
};

/** GlideinWMS's parameter names (ParameterName.from_string), each to the name the parameter carries. */
const PARAMETER_KINDS: Readonly<Record<string, string>> = {
  vmid: 'VMId',
  vm_id: 'VMId',
  vmtype: 'VMType',
  vm_type: 'VMType',
  glideinproxy: 'GlideinProxy',
  remoteusername: 'RemoteUsername',
  projectid: 'ProjectId',
  project_id: 'ProjectId',
};

/**
 * The GlideinWMS kind each glidein credential type is: `jwt` is its generic `token`, `key` its
 * `key_pair`. x509_pair, username_password, the RSA, symmetric and dynamic kinds have no glidein
 * type: an alternative naming them is accepted, as GlideinWMS accepts it, and never met.
 */
const KIND_OF_TYPE: Readonly<Record<CredentialType, string>> = {
  idtoken: 'idtoken',
  scitoken: 'scitoken',
  jwt: 'token',
  x509_proxy: 'x509_cert',
  key: 'key_pair',
  text: 'text',
};

export const AUTH_METHOD_NAMES: readonly string[] = [...Object.keys(CREDENTIAL_KINDS), ...Object.keys(PARAMETER_KINDS), 'any'];

/** Parsed requirement: each inner array is one group of alternatives (lower case, as written); an empty group is `any`. */
export type AuthRequirement = readonly (readonly string[])[];

function unknown(text: string, gi: number, ai: number, alt: string): GlideinError {
  const lower = alt.toLowerCase();
  const why =
    alt === '' ? `group ${gi + 1} alternative ${ai + 1} is empty`
    : lower.trim() !== lower && AUTH_METHOD_NAMES.includes(lower.trim()) ? `"${alt}" has spaces around the name, which GlideinWMS does not trim`
    : lower === 'any' ? `"any" is only a whole group, not an alternative beside others`
    : `unknown method "${alt}"; expected one of ${AUTH_METHOD_NAMES.join(', ')}`;
  return new GlideinError('GLIDEIN_ERR_AUTH_METHOD', `auth_method "${text}": ${why}`);
}

export function parseAuthMethod(text: string): AuthRequirement {
  if (typeof text !== 'string' || text === '') {
    throw new GlideinError('GLIDEIN_ERR_AUTH_METHOD', 'auth_method is empty; expected e.g. "scitoken,grid_proxy;vmid" or "any"');
  }
  return text.replace(/\+/g, ';').split(';').map((group, gi) => {
    if (group.toLowerCase() === 'any') return [];
    return group.split(',').map((alt, ai) => {
      const lower = alt.toLowerCase();
      if (lower === 'any' || !(lower in CREDENTIAL_KINDS || lower in PARAMETER_KINDS)) throw unknown(text, gi, ai, alt);
      return lower;
    });
  });
}

export interface GroupMatch {
  /** The alternative that was chosen (lower case, as written), or 'any'. */
  method: string;
  /** The credential that met it (undefined for `any` and for a parameter). */
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
  /** The parameters set (name → value); each counts whatever its value. Parameters the credentials carry count too. */
  parameters?: Readonly<Record<string, string>>;
}

/** The credential that meets ALT, or null when a parameter meets it, or undefined when nothing does. */
function meeting(alt: string, credentials: readonly Credential[], parameters: ReadonlySet<string>, o: MatchOptions): Credential | null | undefined {
  const param = PARAMETER_KINDS[alt];
  if (param !== undefined) return parameters.has(param) ? null : undefined;
  const kind = CREDENTIAL_KINDS[alt];
  return credentials.find((c) => KIND_OF_TYPE[c.type] === kind && isUsable(c, o.now, o.minLifetime ?? 0));
}

/** Match credentials and parameters against a requirement: every group needs one met alternative. */
export function matchAuthMethod(req: AuthRequirement, credentials: readonly Credential[], options: MatchOptions): AuthMatch {
  const parameters = new Set([...Object.keys(options.parameters ?? {}), ...credentials.flatMap((c) => Object.keys(c.parameters ?? {}))]);
  const groups: GroupMatch[] = [];
  for (const [gi, group] of req.entries()) {
    if (group.length === 0) {
      groups.push({ method: 'any', credential: undefined });
      continue;
    }
    let found: GroupMatch | undefined;
    for (const alt of group) {
      const credential = meeting(alt, credentials, parameters, options);
      if (credential !== undefined) {
        found = { method: alt, credential: credential ?? undefined };
        break;
      }
    }
    if (!found) {
      const nearMiss = group.some((alt) => meeting(alt, credentials, parameters, { now: options.now }) !== undefined);
      return {
        ok: false,
        unmetGroup: gi,
        wanted: group,
        reason: nearMiss
          ? `no credential for ${group.join(' or ')} stays valid for the minimum lifetime of ${options.minLifetime ?? 0} s`
          : `no valid credential or parameter for ${group.join(' or ')}`,
      };
    }
    groups.push(found);
  }
  return { ok: true, groups };
}
