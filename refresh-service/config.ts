// The refresh service's configuration: parsed, checked and defaulted in one place (STYLE.md
// example 5). Contract keys (DESIGN.md section 9) keep their names; the rest are documented
// extras with safe defaults. Every error names the file and the key.
import { readJsonFile } from '../shared/json-file.ts';
import { hostname } from 'node:os';
import { ConfigError } from '../shared/errors.ts';
import { parseDatabaseUrl } from './state/postgres-settings.ts';
import { TRUST_DOMAIN_PATTERN, parseEntries, parseIdps, type EntryConfig, type IdpConfig } from './entries/entry-config.ts';
import { NO_CONDOR_KEYS, parseCondorKeys, type CondorKeys } from './entries/condor-keys.ts';

export interface RateLimitConfig {
  /** Sustained requests per second over all clients (token bucket refill). */
  globalPerSecond: number;
  globalBurst: number;
  /** Sustained refresh/status requests per minute for one glidein family. */
  familyPerMinute: number;
  familyBurst: number;
  /**
   * Refused requests per second one client address may cause (/64 for IPv6), and the burst.
   * Checked before any parsing or crypto; only refusals are charged, so honest pilots behind
   * one NAT or proxy are never slowed by it (issue 11 item 12).
   */
  clientPerSecond: number;
  clientBurst: number;
}

/** The HTCondor keys (entries/condor-keys.ts) at the top level are the default entry's; entries inherit them. */
export interface ServiceConfig extends CondorKeys {
  /** HTCondor TRUST_DOMAIN: the C-CRED `iss`, and the `sub` suffix. */
  trustDomain: string;
  /** S-CRED `iss`. Empty: the public URL. */
  issuer: string;
  /** Base URL glideins use (bundle refresh_url default; DPoP htu base). Empty: the listen address. */
  publicUrl: string;
  /** HTCondor POOL signing key file. */
  poolSigningKeyFile: string;
  idtokenLifetime: number;
  scitokenLifetime: number;
  /** Maximum lifetime of a pilot's refresh family (seconds). */
  refreshFamilyLifetime: number;
  scitoken: { scope: string; audience: string | string[] };
  /** DPoP proofs older than this (or more than `dpopClockSkew` in the future) are refused. */
  dpopWindow: number;
  dpopClockSkew: number;
  rateLimit: RateLimitConfig;
  maxConnections: number;
  /** Milliseconds allowed for a client's request headers / whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Entry name → VO credential name: S-CRED is the VO token pushed under that name instead of a minted one. */
  voCredentials: Record<string, string>;
  /** SQLite `synchronous` with WAL: `full` (fsync every commit; survives power loss) or `normal`. */
  stateSynchronous: 'full' | 'normal';
  /** PEM file put into every bundle as `ca` (the CA that signed the --tls-cert). Empty: none. */
  bundleCaFile: string;
  /** Seconds after a token is spent during which the bound key may ask again (a lost answer). 0: off. */
  rotationGraceSeconds: number;
  /** Seconds without a status heartbeat (after binding) before a family is revoked. 0: off. */
  heartbeatTimeout: number;
  /** GET /metrics needs the admin bearer token. */
  metricsRequireAdmin: boolean;
  /** Allow `serve` without TLS on a non-loopback address and http:// refresh URLs for non-loopback hosts. */
  allowInsecureHttp: boolean;
  /** PostgreSQL state shared by several instances (postgres://USER@HOST:PORT/DB, no password). Empty: SQLite in --state. */
  database: string;
  /** 0600 file holding the database password (else PGPASSWORD). */
  databasePasswordFile: string;
  /** Factory entries (entries/entry-config.ts); empty: any entry name, all from the top-level keys. */
  entries: Record<string, EntryConfig>;
  /** OAuth 2.0 client-credentials IdPs the entries' credential sources may name. */
  idps: Record<string, IdpConfig>;
}

/** Names of VO credentials pushed with PUT /v1/vo-credentials/{name}. */
export const VO_CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const DEFAULT_CONFIG: ServiceConfig = {
  trustDomain: hostname(),
  issuer: '',
  publicUrl: '',
  poolSigningKeyFile: '/etc/condor/passwords.d/POOL',
  idtokenLifetime: 3600,
  scitokenLifetime: 3600,
  refreshFamilyLifetime: 7 * 24 * 3600,
  scitoken: { scope: 'compute.read compute.modify compute.create compute.cancel', audience: 'https://wlcg.cern.ch/jwt/v1/any' },
  dpopWindow: 60,
  dpopClockSkew: 10,
  rateLimit: { globalPerSecond: 2000, globalBurst: 4000, familyPerMinute: 30, familyBurst: 10, clientPerSecond: 20, clientBurst: 200 },
  maxConnections: 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  voCredentials: {},
  stateSynchronous: 'full',
  bundleCaFile: '',
  rotationGraceSeconds: 60,
  heartbeatTimeout: 1200,
  metricsRequireAdmin: false,
  allowInsecureHttp: false,
  database: '',
  databasePasswordFile: '',
  entries: {},
  idps: {},
  ...NO_CONDOR_KEYS,
};

type Where = { file: string };

function err(where: Where, key: string, expected: string, value?: unknown): ConfigError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`;
  return new ConfigError(`${where.file}: ${key}: expected ${expected}${shown}`);
}

function str(where: Where, key: string, v: unknown, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v.length === 0) || v.length > 2048) throw err(where, key, 'a non-empty string', v);
  return v;
}

function int(where: Where, key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw err(where, key, `an integer from ${min} to ${max}`, v);
  return v;
}

function bool(where: Where, key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw err(where, key, 'true or false', v);
  return v;
}

function httpUrl(where: Where, key: string, v: unknown): string {
  const s = str(where, key, v, true);
  if (s === '') return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw err(where, key, 'an http(s) URL', v);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) throw err(where, key, 'an http(s) URL without query or fragment', v);
  return s.replace(/\/+$/, '');
}

function obj(where: Where, key: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw err(where, key, 'a JSON object', v);
  return v as Record<string, unknown>;
}

/** `database` (checked by the PostgreSQL settings parser: a URL with a password is refused) and its password file. */
function databaseKeys(w: Where, database: unknown, passwordFile: unknown): Pick<ServiceConfig, 'database' | 'databasePasswordFile'> {
  const url = str(w, 'database', database, true);
  if (url !== '') parseDatabaseUrl(url, w.file);
  const file = str(w, 'databasePasswordFile', passwordFile, true);
  if (file !== '' && url === '') throw err(w, 'databasePasswordFile', 'to be set only with database', file);
  return { database: url, databasePasswordFile: file };
}

const KNOWN_KEYS = new Set(Object.keys(DEFAULT_CONFIG));

/** Check and default a raw config object. `file` names the source in messages. */
export function parseServiceConfig(raw: unknown, file = 'config'): ServiceConfig {
  const w: Where = { file };
  const r = obj(w, '(top level)', raw);
  for (const k of Object.keys(r)) if (!KNOWN_KEYS.has(k)) throw new ConfigError(`${file}: unknown key '${k}'; expected one of ${[...KNOWN_KEYS].join(', ')}`);
  const d = DEFAULT_CONFIG;
  const get = (k: keyof ServiceConfig) => (r[k] === undefined ? d[k] : r[k]);
  const sc = obj(w, 'scitoken', get('scitoken'));
  for (const k of Object.keys(sc)) if (k !== 'scope' && k !== 'audience') throw new ConfigError(`${file}: unknown key 'scitoken.${k}'; expected scope, audience`);
  const scope = str(w, 'scitoken.scope', sc['scope'] ?? d.scitoken.scope);
  const audRaw = sc['audience'] ?? d.scitoken.audience;
  const audience = Array.isArray(audRaw) ? audRaw.map((a, i) => str(w, `scitoken.audience[${i}]`, a)) : str(w, 'scitoken.audience', audRaw);
  if (Array.isArray(audience) && audience.length === 0) throw err(w, 'scitoken.audience', 'a string or a non-empty array of strings', audRaw);
  const rl = obj(w, 'rateLimit', get('rateLimit'));
  for (const k of Object.keys(rl)) if (!(k in d.rateLimit)) throw new ConfigError(`${file}: unknown key 'rateLimit.${k}'; expected ${Object.keys(d.rateLimit).join(', ')}`);
  const rateLimit: RateLimitConfig = {
    globalPerSecond: int(w, 'rateLimit.globalPerSecond', rl['globalPerSecond'] ?? d.rateLimit.globalPerSecond, 1, 1_000_000),
    globalBurst: int(w, 'rateLimit.globalBurst', rl['globalBurst'] ?? d.rateLimit.globalBurst, 1, 10_000_000),
    familyPerMinute: int(w, 'rateLimit.familyPerMinute', rl['familyPerMinute'] ?? d.rateLimit.familyPerMinute, 1, 6_000_000),
    familyBurst: int(w, 'rateLimit.familyBurst', rl['familyBurst'] ?? d.rateLimit.familyBurst, 1, 1_000_000),
    clientPerSecond: int(w, 'rateLimit.clientPerSecond', rl['clientPerSecond'] ?? d.rateLimit.clientPerSecond, 1, 1_000_000),
    clientBurst: int(w, 'rateLimit.clientBurst', rl['clientBurst'] ?? d.rateLimit.clientBurst, 1, 10_000_000),
  };
  const vo = obj(w, 'voCredentials', get('voCredentials'));
  const voCredentials: Record<string, string> = {};
  for (const [entry, name] of Object.entries(vo)) {
    if (typeof name !== 'string' || !VO_CREDENTIAL_NAME.test(name)) throw err(w, `voCredentials.${entry}`, 'a credential name of letters, digits, _ . -', name);
    voCredentials[entry] = name;
  }
  const sync = get('stateSynchronous');
  if (sync !== 'full' && sync !== 'normal') throw err(w, 'stateSynchronous', "'full' or 'normal'", sync);
  const trustDomain = str(w, 'trustDomain', get('trustDomain'));
  if (!TRUST_DOMAIN_PATTERN.test(trustDomain)) throw err(w, 'trustDomain', 'a host-like name', trustDomain);
  const poolSigningKeyFile = str(w, 'poolSigningKeyFile', get('poolSigningKeyFile'));
  const idps = parseIdps(get('idps'), file);
  const condor = parseCondorKeys(r, file, '', NO_CONDOR_KEYS);
  return {
    trustDomain,
    issuer: httpUrl(w, 'issuer', get('issuer')),
    publicUrl: httpUrl(w, 'publicUrl', get('publicUrl')),
    poolSigningKeyFile,
    idtokenLifetime: int(w, 'idtokenLifetime', get('idtokenLifetime'), 60, 30 * 24 * 3600),
    scitokenLifetime: int(w, 'scitokenLifetime', get('scitokenLifetime'), 60, 30 * 24 * 3600),
    refreshFamilyLifetime: int(w, 'refreshFamilyLifetime', get('refreshFamilyLifetime'), 60, 366 * 24 * 3600),
    scitoken: { scope, audience },
    dpopWindow: int(w, 'dpopWindow', get('dpopWindow'), 5, 3600),
    dpopClockSkew: int(w, 'dpopClockSkew', get('dpopClockSkew'), 0, 300),
    rateLimit,
    maxConnections: int(w, 'maxConnections', get('maxConnections'), 1, 1_000_000),
    headersTimeoutMs: int(w, 'headersTimeoutMs', get('headersTimeoutMs'), 100, 600_000),
    requestTimeoutMs: int(w, 'requestTimeoutMs', get('requestTimeoutMs'), 100, 600_000),
    voCredentials,
    stateSynchronous: sync,
    bundleCaFile: str(w, 'bundleCaFile', get('bundleCaFile'), true),
    rotationGraceSeconds: int(w, 'rotationGraceSeconds', get('rotationGraceSeconds'), 0, 3600),
    heartbeatTimeout: int(w, 'heartbeatTimeout', get('heartbeatTimeout'), 0, 366 * 24 * 3600),
    metricsRequireAdmin: bool(w, 'metricsRequireAdmin', get('metricsRequireAdmin')),
    allowInsecureHttp: bool(w, 'allowInsecureHttp', get('allowInsecureHttp')),
    ...databaseKeys(w, get('database'), get('databasePasswordFile')),
    entries: parseEntries(get('entries'), file, { trustDomain, poolSigningKeyFile, ...condor }, idps),
    idps,
    ...condor,
  };
}

/**
 * Load the service config from a JSON file (or defaults when `path` is undefined), with
 * `overrides` applied on top before checking. Throws ConfigError naming the file and key.
 */
export async function loadServiceConfig(path: string | undefined, overrides: Partial<ServiceConfig> = {}): Promise<ServiceConfig> {
  let raw: Record<string, unknown> = {};
  if (path !== undefined) {
    raw = (await readJsonFile(path, { code: 'GLIDEIN_ERR_CONFIG', what: 'config file', maxBytes: 1024 * 1024, object: true })) as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  return parseServiceConfig(merged, path ?? 'config');
}

/** The S-CRED issuer: `issuer`, else the public URL. */
export function effectiveIssuer(config: ServiceConfig, publicUrl: string): string {
  return config.issuer !== '' ? config.issuer : publicUrl;
}
