// What every route handler works with: the service's shared parts (config, state, limits, log,
// metrics, keys) and one request's context (its body, its DPoP proof, its log fields, the answer).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.ts';
import type { ServiceConfig } from '../config.ts';
import { oneDpopHeader, verifyDpopProof } from '../dpop-verify.ts';
import type { Metrics } from '../metrics.ts';
import type { MintContext } from '../mint.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { SigningKeyWatcher } from '../signing-keys.ts';
import type { StateStore } from '../state/store.ts';
import type { WriteWatch } from '../state/write-watch.ts';
import { readJsonBody } from './body.ts';
import { HttpRefusal } from './refusal.ts';

/** The parts of a running service that handlers share. */
export interface ServiceRuntime {
  config: ServiceConfig;
  /** The state store, its writes watched by `writes`. */
  store: StateStore;
  /** The outcome of the store's last failed write, for /readyz (state/write-watch.ts). */
  writes: WriteWatch;
  log: Logger;
  metrics: Metrics;
  /** Global, per family and key, per client address (charged by refusals, checked first), and re-grants per spent token and key. */
  limits: { global: RateLimiter; family: RateLimiter; client: RateLimiter; regrant: RateLimiter };
  keys: SigningKeyWatcher;
  mint: MintContext;
  /** Base URL glideins use; the DPoP htu base. */
  publicUrl: string;
  /** S-CRED issuer. */
  issuer: string;
  /** SHA-256 of the admin bearer token. */
  adminTokenHash: Buffer;
  /** Unix seconds. */
  now(): number;
  /** True once close() began: answers carry Connection: close. */
  draining: boolean;
}

/** What the request log line and metrics say about one request. */
export interface RequestInfo {
  glideinId?: string;
  entry?: string;
  outcome: string;
}

export interface VerifiedProof {
  jkt: string;
  jti: string;
  iat: number;
  /** Until when the jti must be remembered. */
  jtiExpiresAt: number;
  now: number;
}

/** An answer other than 200 JSON (a handler may also return a plain body). */
export class Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export class RequestContext {
  readonly info: RequestInfo = { outcome: 'error' };
  readonly service: ServiceRuntime;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The client's address, kept at the start (a body cut off early detaches req.socket). */
  readonly remote: string | undefined;

  constructor(service: ServiceRuntime, req: IncomingMessage, res: ServerResponse) {
    this.service = service;
    this.req = req;
    this.res = res;
    this.remote = req.socket.remoteAddress;
    res.once('close', () => {
      if (!res.writableFinished) this.#gone = true;
    });
  }

  #gone = false;

  /** True once the client's connection closed before its answer was sent (it will not read it). */
  get clientGone(): boolean {
    return this.#gone;
  }

  jsonBody(): Promise<Record<string, unknown>> {
    return readJsonBody(this.req);
  }

  /** A security event: counted, and logged with the glidein this request is about. */
  security(msg: string, fields: Record<string, unknown>): void {
    this.service.metrics.securityEvents++;
    this.service.metrics.noteSecurity(msg, this.info.glideinId, this.service.now());
    this.service.log.security(msg, { glidein_id: this.info.glideinId, entry: this.info.entry, ...fields });
  }

  /** The request's one DPoP header (RFC 9449 section 4.3: exactly one proof), verified for `path`. */
  async proof(path: string): Promise<VerifiedProof> {
    const { config, publicUrl } = this.service;
    const header = oneDpopHeader(this.req.headersDistinct['dpop']);
    const now = this.service.now();
    const verdict = typeof header !== 'string' ? header : await verifyDpopProof(header, { htm: 'POST', htu: publicUrl + path, now, window: config.dpopWindow, skew: config.dpopClockSkew });
    if (!verdict.ok) {
      this.security('DPoP proof refused', { reason: verdict.reason, remote: this.remote });
      throw new HttpRefusal(401, 'invalid_dpop_proof', verdict.reason);
    }
    return { jkt: verdict.jkt, jti: verdict.jti, iat: verdict.iat, jtiExpiresAt: Math.max(verdict.iat, now) + config.dpopWindow + config.dpopClockSkew, now };
  }

  /**
   * Per family AND key: a pilot hammering the service is slowed, but someone holding a copy of
   * its token (without its key) cannot use up the honest pilot's allowance. Status reports
   * (heartbeats, the final report) have a bucket of their own, so a pilot whose refreshes used
   * up its allowance can still say how it ended (issue 26 item 2).
   */
  limitFamily(glideinId: string, jkt: string, bucket: 'refresh' | 'status' = 'refresh'): void {
    const wait = this.service.limits.family.take(bucket === 'refresh' ? `${glideinId} ${jkt}` : `${glideinId} ${jkt} status`);
    if (wait > 0) throw new HttpRefusal(429, 'rate_limited', 'too many requests for this glidein', 'rate_limited', wait);
  }

  send(status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    this.res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...(this.service.draining ? { connection: 'close' } : {}),
      ...headers,
    });
    // HEAD: the GET's header fields (Content-Length included), no body (RFC 9110 section 9.3.2).
    if (this.req.method === 'HEAD') this.res.end();
    else this.res.end(text);
  }
}
