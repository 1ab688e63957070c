// Factory entries in the service config (issue 15 part 1): per entry its own trust domain and
// POOL key (so a pilot of one domain can never get a token of another), collector list,
// GlideinWMS auth_method, parameters (fixed or round-robin) and a source per credential
// purpose; plus the OAuth client-credentials IdPs the sources may name. Top-level keys stay the
// default entry: every field an entry leaves out is taken from them. Every error names the key.
import { ConfigError, GlideinError } from '../../shared/errors.ts';
import { isSafeId } from '../../shared/protocol.ts';
import { isPurpose } from '../../shared/credential.ts';
import { parseAuthMethod, type AuthRequirement } from '../../shared/auth-method.ts';
import { IDTOKEN_SCOPES_PILOT } from '../../shared/idtoken.ts';
import { CONDOR_KEY_NAMES, parseCondorKeys, type CondorKeys } from './condor-keys.ts';

/** HTCondor TRUST_DOMAIN names (the C-CRED `iss`). */
export const TRUST_DOMAIN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/;
/** A parameter name becomes GLIDEIN_<name> in the pilot's environment. */
const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A fixed value, or items handed out in turn across registrations (GlideinWMS RoundRobinGenerator). */
export type ParameterSpec = { value: string } | { roundRobin: string[] };

export type CredentialSource =
  | { source: 'mint' }
  /** The latest token the VO pushed under `name` (PUT /v1/vo-credentials/{name}). */
  | { source: 'forward'; name: string }
  /** An access token from `idp` with the OAuth 2.0 client credentials grant. */
  | { source: 'client_credentials'; idp: string };

export interface CeCollectorConfig {
  trustDomain: string;
  poolSigningKeyFile: string;
  scope: string;
}

/** The HTCondor keys (condor-keys.ts: collector, condorConfig, ccb, site) are part of an entry. */
export interface EntryConfig extends CondorKeys {
  trustDomain: string;
  poolSigningKeyFile: string;
  /** The auth_method text ('' = none) and its parsed groups. */
  authMethod: string;
  authRequirement: AuthRequirement | null;
  parameters: Record<string, ParameterSpec>;
  /** Purpose → source; a purpose left out keeps today's behaviour (C-CRED and S-CRED minted). */
  credentials: Record<string, CredentialSource>;
  ceCollector: CeCollectorConfig | undefined;
}

export interface IdpConfig {
  issuer: string;
  clientId: string;
  /** 0600 file holding the client secret. */
  clientSecretFile: string;
  scope: string;
  /** RFC 8707 resource indicator (the token's `aud`); '' = none asked for. */
  audience: string;
}

/** The top-level keys an entry inherits. */
export interface EntryDefaults extends CondorKeys {
  trustDomain: string;
  poolSigningKeyFile: string;
}

class Checker {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  fail(key: string, expected: string, value?: unknown): never {
    const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`;
    throw new ConfigError(`${this.file}: ${key}: expected ${expected}${shown}`);
  }
  obj(key: string, v: unknown, allowed?: readonly string[]): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'a JSON object', v);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (allowed && !allowed.includes(k)) throw new ConfigError(`${this.file}: unknown key '${key}.${k}'; expected ${allowed.join(', ')}`);
    return o;
  }
  str(key: string, v: unknown, pattern?: RegExp, what = 'a non-empty string'): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > 2048 || (pattern && !pattern.test(v))) this.fail(key, what, v);
    return v;
  }
}

/** A parameter value: any string up to 2048 characters, the empty one included (GlideinWMS sets a parameter whatever its value). */
function parameterValue(c: Checker, key: string, v: unknown): string {
  if (typeof v !== 'string' || v.length > 2048) c.fail(key, 'a string (at most 2048 characters; it may be empty)', v);
  return v;
}

function parameter(c: Checker, key: string, v: unknown): ParameterSpec {
  if (typeof v === 'string') return { value: parameterValue(c, key, v) };
  const o = c.obj(key, v, ['roundRobin']);
  const items = o['roundRobin'];
  if (!Array.isArray(items) || items.length === 0 || items.length > 10_000) c.fail(`${key}.roundRobin`, 'a non-empty list of strings', items);
  return { roundRobin: items.map((item, i) => parameterValue(c, `${key}.roundRobin[${i}]`, item)) };
}

function credentialSource(c: Checker, key: string, purpose: string, v: unknown, idps: Record<string, IdpConfig>): CredentialSource {
  const o = c.obj(key, v, ['source', 'idp', 'name']);
  const source = o['source'];
  if (source === 'mint') {
    if (purpose !== 'collector' && purpose !== 'vo-service') c.fail(`${key}.source`, "'forward' or 'client_credentials' (only collector and vo-service can be minted)", source);
    return { source };
  }
  if (purpose === 'collector') c.fail(`${key}.source`, "'mint' (the C-CRED is always minted from the entry's POOL key)", source);
  if (source === 'forward') return { source, name: c.str(`${key}.name`, o['name'] ?? purpose, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a VO credential name') };
  if (source === 'client_credentials') {
    const idp = c.str(`${key}.idp`, o['idp']);
    if (!(idp in idps)) c.fail(`${key}.idp`, `one of the idps (${Object.keys(idps).join(', ') || 'none configured'})`, idp);
    return { source, idp };
  }
  return c.fail(`${key}.source`, "'mint', 'forward' or 'client_credentials'", source);
}

function authMethod(c: Checker, key: string, v: unknown): AuthRequirement | null {
  if (v === undefined) return null;
  try {
    return parseAuthMethod(c.str(key, v));
  } catch (e) {
    if (e instanceof GlideinError) throw new ConfigError(`${c.file}: ${key}: ${e.message}`, { cause: e });
    throw e;
  }
}

const ENTRY_KEYS = ['trustDomain', 'poolSigningKeyFile', ...CONDOR_KEY_NAMES, 'authMethod', 'parameters', 'credentials', 'ceCollector'] as const;

function entry(c: Checker, key: string, v: unknown, d: EntryDefaults, idps: Record<string, IdpConfig>): EntryConfig {
  const o = c.obj(key, v, ENTRY_KEYS);
  const parameters: Record<string, ParameterSpec> = {};
  for (const [name, p] of Object.entries(c.obj(`${key}.parameters`, o['parameters'] ?? {}))) {
    if (!PARAMETER_NAME.test(name)) c.fail(`${key}.parameters`, 'parameter names of letters, digits and _ (starting with a letter)', name);
    parameters[name] = parameter(c, `${key}.parameters.${name}`, p);
  }
  const credentials: Record<string, CredentialSource> = {};
  for (const [purpose, s] of Object.entries(c.obj(`${key}.credentials`, o['credentials'] ?? {}))) {
    if (!isPurpose(purpose)) c.fail(`${key}.credentials`, 'purpose names of letters, digits, _ . -', purpose);
    credentials[purpose] = credentialSource(c, `${key}.credentials.${purpose}`, purpose, s, idps);
  }
  let ceCollector: CeCollectorConfig | undefined;
  if (o['ceCollector'] !== undefined) {
    const ce = c.obj(`${key}.ceCollector`, o['ceCollector'], ['trustDomain', 'poolSigningKeyFile', 'scope']);
    ceCollector = {
      trustDomain: c.str(`${key}.ceCollector.trustDomain`, ce['trustDomain'], TRUST_DOMAIN_PATTERN, 'a host-like name'),
      poolSigningKeyFile: c.str(`${key}.ceCollector.poolSigningKeyFile`, ce['poolSigningKeyFile']),
      scope: c.str(`${key}.ceCollector.scope`, ce['scope'] ?? IDTOKEN_SCOPES_PILOT),
    };
  }
  return {
    trustDomain: c.str(`${key}.trustDomain`, o['trustDomain'] ?? d.trustDomain, TRUST_DOMAIN_PATTERN, 'a host-like name'),
    poolSigningKeyFile: c.str(`${key}.poolSigningKeyFile`, o['poolSigningKeyFile'] ?? d.poolSigningKeyFile),
    ...parseCondorKeys(o, c.file, `${key}.`, d),
    authMethod: o['authMethod'] === undefined ? '' : c.str(`${key}.authMethod`, o['authMethod']),
    authRequirement: authMethod(c, `${key}.authMethod`, o['authMethod']),
    parameters,
    credentials,
    ceCollector,
  };
}

function idp(c: Checker, key: string, v: unknown): IdpConfig {
  const o = c.obj(key, v, ['issuer', 'clientId', 'clientSecretFile', 'scope', 'audience']);
  const issuer = c.str(`${key}.issuer`, o['issuer']);
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  const loopback = url?.hostname === '127.0.0.1' || url?.hostname === '[::1]' || url?.hostname === 'localhost';
  if (!url || (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) || url.search || url.hash) {
    c.fail(`${key}.issuer`, 'an https URL (http only on a loopback address) without query or fragment', issuer);
  }
  return {
    issuer,
    clientId: c.str(`${key}.clientId`, o['clientId']),
    clientSecretFile: c.str(`${key}.clientSecretFile`, o['clientSecretFile']),
    scope: o['scope'] === undefined ? '' : c.str(`${key}.scope`, o['scope']),
    audience: o['audience'] === undefined ? '' : c.str(`${key}.audience`, o['audience']),
  };
}

/** Check `idps` (name → IdpConfig). */
export function parseIdps(raw: unknown, file: string): Record<string, IdpConfig> {
  const c = new Checker(file);
  const out: Record<string, IdpConfig> = {};
  for (const [name, v] of Object.entries(c.obj('idps', raw))) {
    if (!isSafeId(name)) c.fail('idps', 'IdP names of letters, digits and _.@:-', name);
    out[name] = idp(c, `idps.${name}`, v);
  }
  return out;
}

/** Check `entries` (name → EntryConfig), filling left-out fields from the top-level keys. */
export function parseEntries(raw: unknown, file: string, defaults: EntryDefaults, idps: Record<string, IdpConfig>): Record<string, EntryConfig> {
  const c = new Checker(file);
  const out: Record<string, EntryConfig> = {};
  for (const [name, v] of Object.entries(c.obj('entries', raw))) {
    if (!isSafeId(name)) c.fail('entries', 'entry names of letters, digits and _.@:- (at most 128)', name);
    out[name] = entry(c, `entries.${name}`, v, defaults, idps);
  }
  return out;
}

/** The default entry: today's behaviour from the top-level keys alone. */
export function defaultEntry(d: EntryDefaults): EntryConfig {
  const { collector, condorConfig, ccb, site, container, glideinwms } = d;
  return { trustDomain: d.trustDomain, poolSigningKeyFile: d.poolSigningKeyFile, collector, condorConfig, ccb, site, container, glideinwms, authMethod: '', authRequirement: null, parameters: {}, credentials: {}, ceCollector: undefined };
}
