// Wire types of the refresh protocol (DESIGN.md section 9, contract) and checks for the parts
// the agent receives from outside: the bundle file and the service's responses.
import { GlideinError, type ErrorCode } from './errors.ts';
import { parseCredential, type Credential } from './credential.ts';
import { parseContainerEntry, type ContainerEntry } from './container-entry.ts';
import { parseScriptSpecs, type ScriptSpec } from './script-spec.ts';

export const BUNDLE_VERSION = 1;
export const REFRESH_PATH = '/v1/refresh';
export const STATUS_PATH = '/v1/status';
/** POST {glidein_id, sha256}: one of the entry's scripts (issue 24 section 5), DPoP from the bound key. */
export const SCRIPTS_PATH = '/v1/scripts';
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * The error_description of the one invalid_grant a pilot retries (issue 26 item 7): its request
 * lost a race with a newer refresh of the same token (another instance answered a retry first).
 * Nothing was spent or revoked; the token the newer answer carried is the pilot's.
 */
export const STALE_PROOF_DESCRIPTION = 'a newer refresh of this token was answered; nothing was spent (retry with a new proof)';
/**
 * The error_description of the 401 invalid_dpop_proof for a token whose family is bound to
 * another key (issue 26 item 4): the pilot holds a copy of a bundle another pilot used, and no
 * retry can help (the other key never leaves that pilot's node).
 */
export const WRONG_KEY_DESCRIPTION = 'DPoP key does not match the key this refresh token is bound to';

/** The pilot bundle made by `refresh-service register` (wire form, snake_case as the contract). */
export interface BundleWire {
  version: 1;
  glidein_id: string;
  entry: string;
  /** One URL, or several instances in order of preference (the agent fails over between them). */
  refresh_url: string | string[];
  refresh_token: string;
  trust_domain: string;
  ca?: string;
  credentials: Record<string, unknown>[];
  expires_at: number;
  /** Optional requirements the pilot validates the node against (`--require` syntax). */
  requirements?: string[];
  /** The factory entry's container use (issue 22): {mode, defaultImage}. */
  container?: { mode?: string; defaultImage?: string };
  /** The entry's VO/factory scripts (issue 24 section 5): {name, sha256, stage, period, deadline}. */
  scripts?: { name: string; sha256: string; stage: string; period?: number; deadline: number }[];
}

export interface Bundle {
  version: 1;
  glideinId: string;
  entry: string;
  /** The first (preferred) refresh URL. */
  refreshUrl: string;
  /** Every refresh URL of the bundle, in order (refreshUrls[0] === refreshUrl). */
  refreshUrls: string[];
  refreshToken: string;
  trustDomain: string;
  ca: string | undefined;
  credentials: Credential[];
  expiresAt: number;
  requirements: string[];
  /** Entry parameters (ProjectId, VMId, VMType …; issue 15), exported to validation as GLIDEIN_<name>. */
  parameters: Readonly<Record<string, string>>;
  /** The entry's container mode and default image (GlideinWMS GLIDEIN_Singularity_Use). */
  container: ContainerEntry;
  /** The entry's VO/factory scripts, fetched from the refresh service by sha256 (SCRIPTS_PATH). */
  scripts: ScriptSpec[];
}

export interface RefreshResponseWire {
  refresh_token: string;
  credentials: Record<string, unknown>[];
  refresh_after: number;
}

export interface RefreshResponse {
  refreshToken: string;
  credentials: Credential[];
  /** Unix seconds after which the pilot should refresh again. */
  refreshAfter: number;
}

export type ProtocolErrorName = 'invalid_request' | 'invalid_grant' | 'invalid_dpop_proof' | 'payload_too_large' | 'rate_limited' | 'not_found' | 'method_not_allowed' | 'unauthorized' | 'server_error' | 'unsupported_grant_type' | 'temporarily_unavailable' | 'invalid_client' | 'invalid_scope';

export interface ErrorBody {
  error: ProtocolErrorName | string;
  error_description: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;
/** Opaque refresh tokens: base64url, at least 43 characters (256 bits). */
const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43,512}$/;

export function isSafeId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

function fail(code: ErrorCode, where: string, message: string): never {
  throw new GlideinError(code, `${where}: ${message}`);
}

function obj(value: unknown, code: ErrorCode, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(code, where, 'expected a JSON object');
  return value as Record<string, unknown>;
}

function credentialList(value: unknown, code: ErrorCode, where: string): Credential[] {
  if (!Array.isArray(value) || value.length > 64) fail(code, where, 'expected an array of at most 64 credentials');
  return value.map((c, i) => {
    try {
      return parseCredential(c, `${where}[${i}]`);
    } catch (e) {
      throw new GlideinError(code, (e as Error).message, { cause: e });
    }
  });
}

/** The most refresh URLs a bundle may list (instances of one service behind separate addresses). */
export const MAX_REFRESH_URLS = 8;

/** refresh_url: one http(s) URL or a non-empty list of them (failover order). */
function refreshUrlList(value: unknown, code: ErrorCode, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_REFRESH_URLS) fail(code, where, `refresh_url: expected an http(s) URL or a list of 1 to ${MAX_REFRESH_URLS} of them`);
  return list.map((url, i) => {
    const name = Array.isArray(value) ? `refresh_url[${i}]` : 'refresh_url';
    if (typeof url !== 'string') fail(code, where, `${name}: expected an http(s) URL`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      fail(code, where, `${name}: '${url}' is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') fail(code, where, `${name}: expected http: or https:`);
    return url;
  });
}

/** Bundle field `parameters`: names that can be env variable suffixes, short one-line values. */
function parameterMap(value: unknown, code: ErrorCode, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const o = obj(value, code, `${where}: parameters`);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(o)) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) fail(code, where, `parameters: name '${name.slice(0, 64)}' is not letters, digits and _ starting with a letter`);
    if (typeof v !== 'string' || v.length > 1024 || /[\u0000-\u001f]/.test(v)) fail(code, where, `parameters.${name}: expected a one-line string of at most 1024 characters`);
    out[name] = v;
  }
  return out;
}

/** Validate an untrusted bundle object. `where` names the file in messages. */
export function parseBundle(value: unknown, where = 'bundle'): Bundle {
  const code: ErrorCode = 'GLIDEIN_ERR_BUNDLE';
  const b = obj(value, code, where);
  if (b['version'] !== BUNDLE_VERSION) fail(code, where, `version: expected ${BUNDLE_VERSION}`);
  if (!isSafeId(b['glidein_id'])) fail(code, where, 'glidein_id: expected letters, digits, and _.@:- (at most 128)');
  if (!isSafeId(b['entry'])) fail(code, where, 'entry: expected letters, digits, and _.@:- (at most 128)');
  const urls = refreshUrlList(b['refresh_url'], code, where);
  if (typeof b['refresh_token'] !== 'string' || !REFRESH_TOKEN_PATTERN.test(b['refresh_token'])) {
    fail(code, where, 'refresh_token: expected an opaque base64url token of at least 256 bits');
  }
  if (typeof b['trust_domain'] !== 'string' || b['trust_domain'].length === 0 || b['trust_domain'].length > 255) {
    fail(code, where, 'trust_domain: expected a non-empty string');
  }
  const ca = b['ca'];
  if (ca !== undefined && ca !== null && (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----'))) {
    fail(code, where, 'ca: expected PEM certificates');
  }
  const exp = b['expires_at'];
  if (typeof exp !== 'number' || !Number.isInteger(exp) || exp <= 0) fail(code, where, 'expires_at: expected unix seconds');
  const reqs = b['requirements'] ?? [];
  if (!Array.isArray(reqs) || !reqs.every((r) => typeof r === 'string')) fail(code, where, 'requirements: expected an array of KEY=VALUE strings');
  return {
    version: BUNDLE_VERSION,
    glideinId: b['glidein_id'],
    entry: b['entry'],
    refreshUrl: urls[0]!,
    refreshUrls: urls,
    refreshToken: b['refresh_token'] as string,
    trustDomain: b['trust_domain'] as string,
    ca: typeof ca === 'string' ? ca : undefined,
    credentials: credentialList(b['credentials'], code, `${where}: credentials`),
    expiresAt: exp,
    requirements: reqs as string[],
    parameters: parameterMap(b['parameters'], code, where),
    container: parseContainerEntry(b['container'], code, where),
    scripts: parseScriptSpecs(b['scripts'], where, code),
  };
}

/** Validate a 200 answer of POST /v1/refresh. */
export function parseRefreshResponse(value: unknown): RefreshResponse {
  const code: ErrorCode = 'GLIDEIN_ERR_REFRESH';
  const where = 'refresh response';
  const r = obj(value, code, where);
  if (typeof r['refresh_token'] !== 'string' || !REFRESH_TOKEN_PATTERN.test(r['refresh_token'])) fail(code, where, 'refresh_token missing or malformed');
  const after = r['refresh_after'];
  if (typeof after !== 'number' || !Number.isFinite(after)) fail(code, where, 'refresh_after: expected unix seconds');
  return { refreshToken: r['refresh_token'], credentials: credentialList(r['credentials'], code, `${where}: credentials`), refreshAfter: after };
}

/** Read an error body defensively (it comes from the network). */
export function parseErrorBody(value: unknown): ErrorBody | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const e = value as Record<string, unknown>;
  if (typeof e['error'] !== 'string') return undefined;
  return { error: e['error'].slice(0, 64), error_description: typeof e['error_description'] === 'string' ? e['error_description'].slice(0, 512) : '' };
}
