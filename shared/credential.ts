// The credential model shared by the agent and the refresh service (GlideinWMS vocabulary:
// C-CRED, S-CRED, CE-CRED, J-CRED). See DESIGN.md section 2.
import { GlideinError } from './errors.ts';
import { decodeJwtUnverified } from './jwt-decode.ts';

export const CREDENTIAL_TYPES = ['idtoken', 'scitoken', 'jwt', 'x509_proxy', 'key', 'text'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/** Well-known purposes; any other non-empty string is a custom purpose. */
export const KNOWN_PURPOSES = ['collector', 'vo-service', 'payload', 'request', 'storage', 'ce'] as const;
export type Purpose = (typeof KNOWN_PURPOSES)[number] | (string & {});

/** Parameters a credential may carry (GlideinWMS: ProjectId, VMId, VMType …). */
export type CredentialParameters = Readonly<Record<string, string>>;

export interface Credential {
  readonly type: CredentialType;
  readonly purpose: Purpose;
  /** The secret itself (a JWT, a PEM, a key). Never logged. */
  readonly token: string;
  /** Unix seconds; null = does not expire (only for non-JWT types with no explicit expiry). */
  readonly expiresAt: number | null;
  readonly trustDomain?: string;
  readonly parameters?: CredentialParameters;
}

const JWT_TYPES: ReadonlySet<CredentialType> = new Set(['idtoken', 'scitoken', 'jwt']);
const PURPOSE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A credential purpose name: letters, digits, '.', '_', '-' (at most 64), not starting with a symbol. */
export function isPurpose(value: unknown): value is string {
  return typeof value === 'string' && PURPOSE_PATTERN.test(value);
}

export function isJwtType(type: CredentialType): boolean {
  return JWT_TYPES.has(type);
}

export function isCredentialType(value: unknown): value is CredentialType {
  return typeof value === 'string' && (CREDENTIAL_TYPES as readonly string[]).includes(value);
}

export interface CredentialInput {
  type: unknown;
  purpose: unknown;
  token: unknown;
  expires_at?: unknown;
  trust_domain?: unknown;
  parameters?: unknown;
}

/**
 * Build a Credential from untrusted input (bundle, job spec, HTTP body), checking every field.
 * For JWT types the expiry comes from the token's `exp` (unverified: bookkeeping only) unless
 * an explicit `expires_at` is given, in which case the earlier of the two wins.
 * `where` names the input in error messages (e.g. `credentials[1]`).
 */
export function parseCredential(input: unknown, where = 'credential'): Credential {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}: expected an object`);
  }
  const raw = input as CredentialInput;
  // "jwt" and "scitoken" are the same shape; accept the contract's names only.
  if (!isCredentialType(raw.type)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.type: expected one of ${CREDENTIAL_TYPES.join(', ')}`);
  }
  if (!isPurpose(raw.purpose)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.purpose: expected a name of letters, digits, '.', '_' or '-' (at most 64)`);
  }
  if (typeof raw.token !== 'string' || raw.token.length === 0 || raw.token.length > 64 * 1024) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.token: expected a non-empty string of at most 64 KiB`);
  }
  let explicit: number | null = null;
  if (raw.expires_at !== undefined && raw.expires_at !== null) {
    if (typeof raw.expires_at !== 'number' || !Number.isInteger(raw.expires_at) || raw.expires_at <= 0) {
      throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.expires_at: expected unix seconds (a positive integer)`);
    }
    explicit = raw.expires_at;
  }
  let expiresAt = explicit;
  if (isJwtType(raw.type)) {
    const { claims } = decodeJwtUnverified(raw.token);
    const exp = claims['exp'];
    if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.token: a ${raw.type} must carry a numeric exp claim`);
    }
    expiresAt = explicit === null ? exp : Math.min(exp, explicit);
  }
  let trustDomain: string | undefined;
  if (raw.trust_domain !== undefined) {
    if (typeof raw.trust_domain !== 'string' || raw.trust_domain.length === 0 || raw.trust_domain.length > 255) {
      throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.trust_domain: expected a non-empty string`);
    }
    trustDomain = raw.trust_domain;
  }
  let parameters: Record<string, string> | undefined;
  if (raw.parameters !== undefined) {
    if (raw.parameters === null || typeof raw.parameters !== 'object' || Array.isArray(raw.parameters)) {
      throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.parameters: expected an object of strings`);
    }
    parameters = {};
    for (const [k, v] of Object.entries(raw.parameters)) {
      if (typeof v !== 'string') {
        throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `${where}.parameters.${k}: expected a string`);
      }
      parameters[k] = v;
    }
  }
  return {
    type: raw.type,
    purpose: raw.purpose,
    token: raw.token,
    expiresAt,
    ...(trustDomain === undefined ? {} : { trustDomain }),
    ...(parameters === undefined ? {} : { parameters }),
  };
}

/** The wire form of a credential (bundle and refresh protocol). */
export function credentialToWire(c: Credential): Record<string, unknown> {
  return {
    type: c.type,
    purpose: c.purpose,
    token: c.token,
    expires_at: c.expiresAt,
    ...(c.trustDomain === undefined ? {} : { trust_domain: c.trustDomain }),
    ...(c.parameters === undefined ? {} : { parameters: c.parameters }),
  };
}

/** Seconds of validity left at `now` (unix seconds); Infinity for non-expiring credentials. */
export function secondsLeft(c: Pick<Credential, 'expiresAt'>, now: number): number {
  return c.expiresAt === null ? Infinity : c.expiresAt - now;
}

/** Valid at `now` and for at least `minLifetime` more seconds. */
export function isUsable(c: Pick<Credential, 'expiresAt'>, now: number, minLifetime = 0): boolean {
  return secondsLeft(c, now) > minLifetime;
}

/** A short non-secret description for logs: type, purpose, expiry, and the JWT's iss/sub. */
export function describeCredential(c: Credential): Record<string, unknown> {
  const out: Record<string, unknown> = { type: c.type, purpose: c.purpose, expiresAt: c.expiresAt };
  if (isJwtType(c.type)) {
    try {
      const { claims } = decodeJwtUnverified(c.token);
      out['iss'] = claims['iss'];
      out['sub'] = claims['sub'];
    } catch {
      out['malformed'] = true;
    }
  }
  return out;
}
