// A small router: a table of routes (method, path or path prefix, whether the rate limits
// apply: per client address, then global), one RequestContext per request, refusals answered as JSON 4xx, anything else as a
// logged 500, and one metrics observation and log line per request. HEAD is answered wherever
// GET is (the GET's status and header fields, no body: RFC 9110 section 9.3.2), a 405 names
// the methods in `Allow` (section 15.5.6), and every 401 carries a `WWW-Authenticate`
// challenge (section 15.5.2): the route's own, else DPoP's (RFC 9449 section 7.1).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GlideinError } from '../../shared/errors.ts';
import type { ErrorBody } from '../../shared/protocol.ts';
import { Reply, RequestContext, type ServiceRuntime } from './request-context.ts';
import { HttpRefusal } from './refusal.ts';
import { clientKey } from './client-address.ts';
import { DPOP_ALGORITHMS } from '../dpop-verify.ts';

/** The challenge of a DPoP-protected endpoint (RFC 9449 section 7.1). */
export function dpopChallenge(error: string): string {
  const algs = `DPoP algs="${DPOP_ALGORITHMS.join(' ')}"`;
  return error === 'invalid_dpop_proof' ? `${algs}, error="invalid_dpop_proof"` : algs;
}

/** The `Allow` field of a path served by `routes` (GET brings HEAD). */
function allowed(routes: readonly Route[]): string {
  const methods = new Set(routes.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])));
  return [...methods].join(', ');
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT';
  /** An exact path, or with `prefix` a path prefix whose rest is handed to the handler. */
  path: string;
  prefix?: boolean;
  /** Behind the global rate limit (health, metrics and discovery are not). */
  limited: boolean;
  /** A body (JSON object, or text for Prometheus) for a 200, or a Reply. */
  handle(ctx: RequestContext, rest: string): Promise<unknown>;
  /** Rewrites every refusal on this path, the router's own (405, 429) included: /v1/token speaks RFC 6749 errors. */
  refusal?(e: HttpRefusal): HttpRefusal;
}

export class Router {
  readonly #service: ServiceRuntime;
  readonly #routes: readonly Route[];

  constructor(service: ServiceRuntime, routes: readonly Route[]) {
    this.#service = service;
    this.#routes = routes;
  }

  /** The route a path belongs to, and the path's name in metrics and logs. */
  #match(path: string): { routes: Route[]; name: string; rest: string } {
    const exact = this.#routes.filter((r) => !r.prefix && r.path === path);
    if (exact.length > 0) return { routes: exact, name: path, rest: '' };
    const prefixed = this.#routes.filter((r) => r.prefix && path.startsWith(r.path));
    if (prefixed.length > 0) return { routes: prefixed, name: `${prefixed[0]!.path}{name}`, rest: path.slice(prefixed[0]!.path.length) };
    return { routes: [], name: 'other', rest: '' };
  }

  async #run(ctx: RequestContext, routes: Route[], path: string, rest: string): Promise<void> {
    if (routes.length === 0) throw new HttpRefusal(404, 'not_found', 'no such endpoint');
    const method = ctx.req.method === 'HEAD' ? 'GET' : ctx.req.method;
    const route = routes.find((r) => r.method === method);
    if (!route) {
      const allow = allowed(routes);
      throw new HttpRefusal(405, 'method_not_allowed', `${path} takes ${allow}`, 'method_not_allowed', undefined, { allow });
    }
    if (route.limited) {
      // Before any parsing or crypto: an address that keeps being refused is refused cheaply.
      const clientWait = this.#service.limits.client.check(clientKey(ctx.remote));
      if (clientWait > 0) throw new HttpRefusal(429, 'rate_limited', 'too many refused requests from this address', 'rate_limited_client', clientWait);
      const wait = this.#service.limits.global.take('');
      if (wait > 0) throw new HttpRefusal(429, 'rate_limited', 'the service is busy', 'rate_limited', wait);
    }
    const body = await route.handle(ctx, rest);
    if (ctx.info.outcome === 'error') ctx.info.outcome = 'ok';
    if (body instanceof Reply) ctx.send(body.status, body.body, body.headers);
    else ctx.send(200, body);
  }

  #refuse(ctx: RequestContext, routes: readonly Route[], refusal: HttpRefusal): void {
    const e = routes[0]?.refusal?.(refusal) ?? refusal;
    ctx.info.outcome = e.outcome;
    // Every refusal but a rate limit costs the address one token of its bucket; so does not a
    // stale proof: a valid proof from the bound key for a real token that lost a race (retried
    // the next second), which only the pilot itself can make: nothing an attacker probes with.
    if (e.status !== 429 && e.outcome !== 'stale_proof') this.#service.limits.client.take(clientKey(ctx.remote));
    const body: ErrorBody = { error: e.error, error_description: e.message };
    // After a refused body the rest of it is not read: close the connection.
    const headers: Record<string, string> = { ...(e.status === 413 ? { connection: 'close' } : {}), ...e.headers };
    if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
    if (e.status === 401 && headers['www-authenticate'] === undefined) headers['www-authenticate'] = dpopChallenge(e.error);
    if (!ctx.res.headersSent) ctx.send(e.status, body, headers);
  }

  dispatch(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const ctx = new RequestContext(this.#service, req, res);
    const path = (req.url ?? '/').split('?')[0]!;
    const { routes, name, rest } = this.#match(path);
    const { metrics, log } = this.#service;
    this.#run(ctx, routes, path, rest)
      .catch((e: unknown) => {
        if (e instanceof HttpRefusal) return this.#refuse(ctx, routes, e);
        ctx.info.outcome = 'server_error';
        log.error('request failed', { error: e, code: e instanceof GlideinError ? e.code : 'GLIDEIN_ERR_INTERNAL', path: name });
        if (!res.headersSent) ctx.send(500, { error: 'server_error', error_description: 'internal error' });
      })
      .finally(() => {
        const seconds = (performance.now() - started) / 1000;
        metrics.observe(name, ctx.info.outcome, seconds);
        metrics.tally.observe(name, ctx.info.entry, res.statusCode, this.#service.now());
        log.info('request', { method: req.method, path: name, status: res.statusCode, outcome: ctx.info.outcome, glidein_id: ctx.info.glideinId, entry: ctx.info.entry, latency_ms: Math.round(seconds * 10_000) / 10 });
      });
  }
}
