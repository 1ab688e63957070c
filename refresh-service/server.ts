// The refresh service's HTTP(S) server: POST /v1/refresh (DPoP-bound single-use rotation),
// POST /v1/status, admin POST /v1/revoke and PUT /v1/vo-credentials/{name}, GET /healthz,
// /metrics and the issuer's /.well-known documents. Every input is untrusted: bodies are
// capped while they stream in, slow clients time out, connections are bounded, and every
// refusal is a JSON error with a 4xx status (DESIGN.md section 9).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError, GlideinError, errnoCode } from '../shared/errors.ts';
import { silentLogger, type Logger } from '../shared/log.ts';
import { MAX_BODY_BYTES, REFRESH_PATH, STATUS_PATH, isSafeId, type ErrorBody, type ProtocolErrorName } from '../shared/protocol.ts';
import { decodeJwtUnverified } from '../shared/jwt-decode.ts';
import { VO_CREDENTIAL_NAME, effectiveIssuer, type ServiceConfig } from './config.ts';
import { openServiceContext, type ServiceContext } from './context.ts';
import { SigningKeyWatcher } from './signing-keys.ts';
import { verifyDpopProof } from './dpop-verify.ts';
import { Metrics } from './metrics.ts';
import { mintCredentials, type MintContext } from './mint.ts';
import { RateLimiter } from './rate-limit.ts';
import { REFRESH_TOKEN_PATTERN, hashRefreshToken, newRefreshToken } from './refresh-token.ts';
import { ensureAdminToken } from './state-dir.ts';

export const REVOKE_PATH = '/v1/revoke';
export const VO_CREDENTIALS_PREFIX = '/v1/vo-credentials/';
const DEFAULT_LISTEN = '127.0.0.1:8443';
const DRAIN_DEADLINE_MS = 10_000;
const PRUNE_INTERVAL_MS = 60_000;
/** How often Node looks for clients past headersTimeout/requestTimeout (its default is 30 s). */
const SLOW_CLIENT_CHECK_MS = 1000;
/** Spent tokens are kept a day after they were spent (and families a day past their end) so late reuse is still recognised. */
const PRUNE_GRACE_SECONDS = 24 * 3600;

export interface StartOptions {
  stateDir: string;
  config: ServiceConfig;
  /** HOST:PORT (IPv6 as [::1]:PORT); port 0 picks a free port. Default 127.0.0.1:8443. */
  listen?: string;
  tls?: { cert: string; key: string };
  log?: Logger;
}

export interface RunningService {
  /** The address the server listens on, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** The base URL glideins use (config publicUrl, else `url`). */
  publicUrl: string;
  /** Stop accepting, let in-flight requests finish (bounded), close the state. */
  close(): Promise<void>;
}

/** A refusal: becomes a JSON error response. Never a 5xx. */
class HttpRefusal extends Error {
  readonly status: number;
  readonly error: ProtocolErrorName;
  readonly outcome: string;
  readonly retryAfter: number | undefined;
  constructor(status: number, error: ProtocolErrorName, description: string, outcome: string = error, retryAfter?: number) {
    super(description);
    this.status = status;
    this.error = error;
    this.outcome = outcome;
    this.retryAfter = retryAfter;
  }
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new GlideinError('GLIDEIN_ERR_USAGE', `--listen '${value}' is not valid; expected HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443)`);
  return { host: (m[1] ?? m[2])!, port };
}

interface RequestInfo {
  glideinId?: string;
  entry?: string;
  outcome: string;
}

export async function startRefreshService(options: StartOptions): Promise<RunningService> {
  const { config, stateDir } = options;
  const log = (options.log ?? silentLogger).child({ component: 'refresh-service' });
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  let tlsMaterial: { cert: Buffer; key: Buffer } | undefined;
  if (options.tls) {
    const read = async (path: string, flag: string) => {
      try {
        return await readFile(path);
      } catch (cause) {
        throw new ConfigError(`${flag} ${path} cannot be read (${errnoCode(cause) ?? String(cause)})`, { cause });
      }
    };
    tlsMaterial = { cert: await read(options.tls.cert, '--tls-cert'), key: await read(options.tls.key, '--tls-key') };
  }
  const ctx: ServiceContext = await openServiceContext(stateDir, config);
  const adminTokenHash = createHash('sha256').update(await ensureAdminToken(stateDir)).digest();
  const metrics = new Metrics();
  const globalLimit = new RateLimiter({ rate: config.rateLimit.globalPerSecond, burst: config.rateLimit.globalBurst });
  const familyLimit = new RateLimiter({ rate: config.rateLimit.familyPerMinute / 60, burst: config.rateLimit.familyBurst });

  let server: Server;
  try {
    // Check for slow clients every second (Node's default is every 30 s).
    const common = { connectionsCheckingInterval: SLOW_CLIENT_CHECK_MS, headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs };
    server = tlsMaterial
      ? createHttpsServer({ ...common, cert: tlsMaterial.cert, key: tlsMaterial.key })
      : createHttpServer(common);
  } catch (cause) {
    await ctx.store.close();
    throw new ConfigError(`--tls-cert/--tls-key: cannot use them (${(cause as Error).message})`, { cause });
  }
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = config.maxConnections;
  server.maxHeadersCount = 64;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    await ctx.store.close();
    const code = errnoCode(cause);
    if (code === 'EADDRINUSE') throw new GlideinError('GLIDEIN_ERR_ADDRESS_IN_USE', `--listen ${options.listen ?? DEFAULT_LISTEN}: the address is already in use`, { cause });
    throw new ConfigError(`--listen ${options.listen ?? DEFAULT_LISTEN}: cannot listen there (${code ?? String(cause)})`, { cause });
  }
  server.on('error', (e) => log.error('server error', { error: e }));
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    // Below the request layer (malformed HTTP, slow headers, huge headers): a JSON 4xx when the
    // socket can still take it, then close.
    const code = e.code ?? '';
    const [status, reason] = code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT'
      ? [408, 'Request Timeout'] : code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    metrics.observe('other', `client_error_${status}`, 0);
    if (!socket.writable) return void socket.destroy();
    const body = JSON.stringify({ error: 'invalid_request', error_description: reason.toLowerCase() });
    // Write the answer, then destroy: a half-closed socket whose peer never closes would keep its slot.
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    (socket as Socket).destroySoon();
  });

  const addr = server.address() as AddressInfo;
  const scheme = tlsMaterial ? 'https' : 'http';
  const url = `${scheme}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const publicUrl = config.publicUrl !== '' ? config.publicUrl : url;
  const issuer = effectiveIssuer(config, publicUrl);
  const keys = new SigningKeyWatcher(stateDir, ctx.signingKeys);
  const mintCtx: MintContext = { config, issuer, poolKey: ctx.poolKey, signingKeys: ctx.signingKeys, store: ctx.store };
  const nowSec = () => Math.floor(Date.now() / 1000);

  let draining = false;
  let closing: Promise<void> | undefined;
  const prune = () => ctx.store.prune(nowSec(), PRUNE_GRACE_SECONDS).catch((e: unknown) => log.warn('state prune failed', { error: e }));
  void prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) throw new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpRefusal(400, 'invalid_request', 'Content-Type must be application/json');
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) throw new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof HttpRefusal) throw e;
      throw new HttpRefusal(400, 'invalid_request', 'the request body was cut off', 'aborted');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new HttpRefusal(400, 'invalid_request', 'body is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpRefusal(400, 'invalid_request', 'body must be a JSON object');
    return parsed as Record<string, unknown>;
  }

  function dpopHeader(req: IncomingMessage): string | undefined {
    const raw = req.headersDistinct['dpop'];
    if (!raw || raw.length !== 1) return undefined; // RFC 9449 section 4.3: exactly one proof
    return raw[0];
  }

  function security(msg: string, info: RequestInfo, fields: Record<string, unknown>): void {
    metrics.securityEvents++;
    log.security(msg, { glidein_id: info.glideinId, entry: info.entry, ...fields });
  }

  async function proofFor(req: IncomingMessage, path: string, info: RequestInfo) {
    const now = nowSec();
    const verdict = await verifyDpopProof(dpopHeader(req), { htm: 'POST', htu: publicUrl + path, now, window: config.dpopWindow, skew: config.dpopClockSkew });
    if (!verdict.ok) {
      security('DPoP proof refused', info, { reason: verdict.reason, remote: req.socket.remoteAddress });
      throw new HttpRefusal(401, 'invalid_dpop_proof', verdict.reason);
    }
    return { ...verdict, jtiExpiresAt: Math.max(verdict.iat, now) + config.dpopWindow + config.dpopClockSkew, now };
  }

  /**
   * Per family AND key: a pilot hammering the service is slowed, but someone holding a copy of
   * its token (without its key) cannot use up the honest pilot's allowance.
   */
  function limitFamily(glideinId: string, jkt: string): void {
    const wait = familyLimit.take(`${glideinId} ${jkt}`);
    if (wait > 0) throw new HttpRefusal(429, 'rate_limited', 'too many requests for this glidein', 'rate_limited', wait);
  }

  async function refresh(req: IncomingMessage, info: RequestInfo): Promise<unknown> {
    const body = await readJsonBody(req);
    const token = body['refresh_token'];
    if (typeof token !== 'string' || !REFRESH_TOKEN_PATTERN.test(token)) throw new HttpRefusal(400, 'invalid_request', 'refresh_token: expected an opaque base64url token');
    const oldHash = hashRefreshToken(token);
    const peek = await ctx.store.peekToken(oldHash);
    if (peek) {
      info.glideinId = peek.family.glideinId;
      info.entry = peek.family.entry;
    }
    // A refused proof returns here: nothing is spent, nothing revoked.
    const proof = await proofFor(req, REFRESH_PATH, info);
    if (peek) limitFamily(peek.family.glideinId, proof.jkt);
    const now = proof.now;
    const usable = peek && !peek.spent && peek.family.revokedAt === null && peek.family.expiresAt > now && (peek.family.jkt === null || peek.family.jkt === proof.jkt);
    // Mint before committing: once the rotation is committed the answer must go out.
    if (usable) mintCtx.signingKeys = await keys.fresh();
    const credentials = usable ? await mintCredentials(mintCtx, { glideinId: peek.family.glideinId, entry: peek.family.entry, now, familyExpiresAt: peek.family.expiresAt }) : [];
    const next = usable ? newRefreshToken() : null;
    const outcome = await ctx.store.settleRefresh({ oldHash, newHash: next === null ? null : hashRefreshToken(next), jkt: proof.jkt, jti: proof.jti, jtiExpiresAt: proof.jtiExpiresAt, now });
    switch (outcome.kind) {
      case 'rotated': {
        if (outcome.bound) log.info('refresh family bound to DPoP key', { glidein_id: outcome.family.glideinId, entry: outcome.family.entry, jkt: proof.jkt });
        const soonest = Math.min(...credentials.map((c) => c.expires_at));
        info.outcome = 'rotated';
        return { refresh_token: next, credentials, refresh_after: now + Math.max(1, Math.floor((soonest - now) * 0.6)) };
      }
      case 'replayed_jti':
        security('DPoP proof replayed', info, { reason: 'jti seen before' });
        throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP proof jti was used before');
      case 'wrong_key':
        security('DPoP proof from a key the family is not bound to', info, { jkt: proof.jkt });
        throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP key does not match the key this refresh token is bound to');
      case 'reused':
        metrics.reuseDetections++;
        security('spent refresh token presented again: family revoked', info, { jkt: proof.jkt, remote: req.socket.remoteAddress });
        throw new HttpRefusal(401, 'invalid_grant', 'refresh token already used; the glidein is revoked', 'reuse_detected');
      case 'revoked':
        throw new HttpRefusal(401, 'invalid_grant', 'the glidein is revoked', 'revoked');
      case 'expired':
        throw new HttpRefusal(401, 'invalid_grant', 'the glidein has passed its maximum lifetime', 'expired');
      case 'unknown':
        throw new HttpRefusal(401, 'invalid_grant', 'unknown refresh token', 'unknown_token');
    }
  }

  async function status(req: IncomingMessage, info: RequestInfo): Promise<unknown> {
    const body = await readJsonBody(req);
    const id = body['glidein_id'];
    if (!isSafeId(id)) throw new HttpRefusal(400, 'invalid_request', 'glidein_id: expected the glidein id');
    info.glideinId = id;
    const proof = await proofFor(req, STATUS_PATH, info);
    const family = await ctx.store.getFamily(id);
    if (family) info.entry = family.entry;
    if (!family || family.jkt === null || family.jkt !== proof.jkt) {
      security('status report not signed by the family key', info, { jkt: proof.jkt });
      throw new HttpRefusal(401, 'invalid_dpop_proof', 'status must be signed by the key bound at the first refresh');
    }
    limitFamily(id, proof.jkt);
    if (!(await ctx.store.recordJti(proof.jti, proof.jtiExpiresAt, proof.now))) {
      security('DPoP proof replayed', info, { reason: 'jti seen before' });
      throw new HttpRefusal(401, 'invalid_dpop_proof', 'DPoP proof jti was used before');
    }
    if (family.revokedAt !== null || family.expiresAt <= proof.now) throw new HttpRefusal(401, 'invalid_grant', 'the glidein is revoked or expired', 'revoked');
    await ctx.store.recordStatus(id, JSON.stringify(body), proof.now);
    info.outcome = 'recorded';
    return { status: 'recorded' };
  }

  function requireAdmin(req: IncomingMessage, info: RequestInfo): void {
    const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(req.headers.authorization ?? '');
    const given = createHash('sha256').update(m?.[1] ?? '').digest();
    if (!m || !timingSafeEqual(given, adminTokenHash)) {
      security('admin request with a bad bearer token', info, { remote: req.socket.remoteAddress });
      throw new HttpRefusal(401, 'unauthorized', 'admin bearer token required');
    }
  }

  async function revoke(req: IncomingMessage, info: RequestInfo): Promise<unknown> {
    requireAdmin(req, info);
    const body = await readJsonBody(req);
    const id = body['glidein_id'];
    const entry = body['entry'];
    if ((id === undefined) === (entry === undefined)) throw new HttpRefusal(400, 'invalid_request', 'give exactly one of glidein_id or entry');
    const target = id ?? entry;
    if (!isSafeId(target)) throw new HttpRefusal(400, 'invalid_request', `${id !== undefined ? 'glidein_id' : 'entry'}: expected letters, digits, and _.@:-`);
    const now = nowSec();
    const n = id !== undefined ? await ctx.store.revokeByGlideinId(target, 'revoked by admin', now) : await ctx.store.revokeByEntry(target, 'revoked by admin', now);
    info.outcome = 'revoked';
    log.info('revoked', id !== undefined ? { glidein_id: target, count: n } : { entry: target, count: n });
    return { revoked: n };
  }

  async function putVoCredential(req: IncomingMessage, name: string, info: RequestInfo): Promise<unknown> {
    requireAdmin(req, info);
    if (!VO_CREDENTIAL_NAME.test(name)) throw new HttpRefusal(400, 'invalid_request', 'credential name: expected letters, digits, _ . -');
    const body = await readJsonBody(req);
    const token = body['token'];
    if (typeof token !== 'string') throw new HttpRefusal(400, 'invalid_request', 'token: expected a JWT');
    let exp: unknown;
    try {
      exp = decodeJwtUnverified(token).claims['exp'];
    } catch (e) {
      throw new HttpRefusal(400, 'invalid_request', `token: ${(e as Error).message}`);
    }
    const now = nowSec();
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new HttpRefusal(400, 'invalid_request', 'token: needs a numeric exp');
    if (exp <= now) throw new HttpRefusal(400, 'invalid_request', 'token: already expired');
    await ctx.store.putVoCredential({ name, token: token.trim(), expiresAt: Math.floor(exp), updatedAt: now });
    info.outcome = 'stored';
    log.info('VO credential stored', { name, expiresAt: Math.floor(exp) });
    return { name, expires_at: Math.floor(exp) };
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...(draining ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, info: RequestInfo): Promise<void> {
    const method = req.method ?? '';
    const allow = (m: string) => {
      if (method !== m) throw new HttpRefusal(405, 'method_not_allowed', `${path} takes ${m}`);
    };
    if (path === '/healthz') {
      allow('GET');
      info.outcome = 'ok';
      return send(res, 200, { status: 'ok' });
    }
    if (path === '/metrics') {
      allow('GET');
      info.outcome = 'ok';
      return send(res, 200, metrics.render(await ctx.store.countActiveFamilies(nowSec())));
    }
    if (path === '/.well-known/jwks.json') {
      allow('GET');
      info.outcome = 'ok';
      return send(res, 200, { keys: (await keys.fresh()).published.map((k) => k.publicJwk) });
    }
    if (path === '/.well-known/openid-configuration') {
      allow('GET');
      info.outcome = 'ok';
      return send(res, 200, { issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, token_endpoint: `${publicUrl}${REFRESH_PATH}`, dpop_signing_alg_values_supported: ['ES256', 'RS256', 'EdDSA'], id_token_signing_alg_values_supported: ['ES256'] });
    }
    const wait = globalLimit.take('');
    if (wait > 0) throw new HttpRefusal(429, 'rate_limited', 'the service is busy', 'rate_limited', wait);
    let body: unknown;
    if (path === REFRESH_PATH) {
      allow('POST');
      body = await refresh(req, info);
    } else if (path === STATUS_PATH) {
      allow('POST');
      body = await status(req, info);
    } else if (path === REVOKE_PATH) {
      allow('POST');
      body = await revoke(req, info);
    } else if (path.startsWith(VO_CREDENTIALS_PREFIX)) {
      allow('PUT');
      body = await putVoCredential(req, path.slice(VO_CREDENTIALS_PREFIX.length), info);
    } else {
      throw new HttpRefusal(404, 'not_found', 'no such endpoint');
    }
    send(res, 200, body);
  }

  const ROUTES = new Set(['/healthz', '/metrics', '/.well-known/jwks.json', '/.well-known/openid-configuration', REFRESH_PATH, STATUS_PATH, REVOKE_PATH]);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const info: RequestInfo = { outcome: 'error' };
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const metricRoute = ROUTES.has(rawPath) ? rawPath : rawPath.startsWith(VO_CREDENTIALS_PREFIX) ? VO_CREDENTIALS_PREFIX + '{name}' : 'other';
    route(req, res, rawPath, info)
      .catch((e: unknown) => {
        if (e instanceof HttpRefusal) {
          info.outcome = e.outcome;
          const body: ErrorBody = { error: e.error, error_description: e.message };
          // After a refused body the rest of it is not read: close the connection.
          const headers: Record<string, string> = e.status === 413 ? { connection: 'close' } : {};
          if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
          if (e.error === 'invalid_dpop_proof') headers['www-authenticate'] = `DPoP algs="ES256 RS256 EdDSA", error="invalid_dpop_proof"`;
          if (!res.headersSent) send(res, e.status, body, headers);
          return;
        }
        info.outcome = 'server_error';
        log.error('request failed', { error: e, code: e instanceof GlideinError ? e.code : 'GLIDEIN_ERR_INTERNAL', path: metricRoute });
        if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: 'internal error' });
      })
      .finally(() => {
        const seconds = (performance.now() - started) / 1000;
        metrics.observe(metricRoute, info.outcome, seconds);
        log.info('request', { method: req.method, path: metricRoute, status: res.statusCode, outcome: info.outcome, glidein_id: info.glideinId, entry: info.entry, latency_ms: Math.round(seconds * 10_000) / 10 });
      });
  });

  log.info('refresh service listening', { url, publicUrl, issuer, kid: ctx.signingKeys.active.kid });

  return {
    url,
    port: addr.port,
    publicUrl,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(pruneTimer);
        draining = true;
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive sockets become idle as their last answer goes out (sent with
        // Connection: close): close them as they do, and everything at the deadline.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => server.closeAllConnections(), DRAIN_DEADLINE_MS);
        await drained;
        clearInterval(sweep);
        clearTimeout(deadline);
        await ctx.store.close();
        log.info('refresh service stopped');
      })();
      return closing;
    },
  };
}
