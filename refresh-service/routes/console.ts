// GET /console: the operator's web console (refresh-service/console), served by the service
// itself: no script, no CDN, no build step. The admin token is exchanged once (POST
// /console/login) for a session cookie; every POST must come from this origin (Origin header)
// and carry the session's CSRF token; the token never appears in a URL or a log line.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { isSafeId } from '../../shared/protocol.ts';
import { readFormBody } from '../http/body.ts';
import { clientKey } from '../http/client-address.ts';
import { HttpRefusal } from '../http/refusal.ts';
import { Reply, type RequestContext, type ServiceRuntime } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { SECURITY_HEADERS } from '../console/html.ts';
import { entriesPage, overviewPage } from '../console/overview-page.ts';
import { loginPage, pilotPage, pilotsPage } from '../console/pilot-pages.ts';
import { COOKIE, ConsoleSessions, csrfMatches, sessionCookie, type Session } from '../console/session.ts';
import { DAY } from '../operator/entry-view.ts';
import { queryEntries, queryPilot, queryPilots } from '../operator/queries.ts';
import { parseSummary } from '../operator/validation-summary.ts';
import { pilotQuery } from './operator.ts';

/** The most refreshes a pilot's timeline lists. */
const TIMELINE_REFRESHES = 100;

const sessionsOf = new WeakMap<ServiceRuntime, ConsoleSessions>();
function sessions(service: ServiceRuntime): ConsoleSessions {
  let s = sessionsOf.get(service);
  if (!s) sessionsOf.set(service, (s = new ConsoleSessions()));
  return s;
}

const html = (body: string, status = 200, headers: Record<string, string> = {}) => new Reply(status, body, { ...SECURITY_HEADERS, ...headers });
const redirect = (to: string, headers: Record<string, string> = {}) => new Reply(303, '', { ...SECURITY_HEADERS, location: to, ...headers });
const isTls = (ctx: RequestContext) => (ctx.req.socket as TLSSocket).encrypted === true;

/**
 * POSTs only from a page of this service: the Origin header names the origin of publicUrl. The
 * request's Host header is not trusted for this: under DNS rebinding an attacker's page sends
 * its own name as both Host and Origin.
 */
function checkOrigin(ctx: RequestContext): void {
  const origin = ctx.req.headers.origin;
  if (origin === undefined || origin !== new URL(ctx.service.publicUrl).origin) {
    ctx.security('console POST from another origin', { origin: origin?.slice(0, 100), remote: ctx.remote });
    throw new HttpRefusal(403, 'unauthorized', 'cross-origin request refused');
  }
}

function session(ctx: RequestContext): Session | undefined {
  return sessions(ctx.service).find(ctx.req, ctx.service.now());
}

/** A POST's form, from this origin, in a live session, with that session's CSRF token. */
async function authorizedForm(ctx: RequestContext): Promise<{ s: Session; form: Map<string, string> }> {
  checkOrigin(ctx);
  const s = session(ctx);
  const form = await readFormBody(ctx.req);
  if (!s || !csrfMatches(s, form.get('csrf'))) {
    ctx.security('console POST without a session or CSRF token', { remote: ctx.remote });
    throw new HttpRefusal(403, 'unauthorized', 'sign in again');
  }
  return { s, form };
}

async function login(ctx: RequestContext): Promise<unknown> {
  checkOrigin(ctx);
  const token = (await readFormBody(ctx.req)).get('token') ?? '';
  const given = createHash('sha256').update(token).digest();
  if (!timingSafeEqual(given, ctx.service.adminTokenHash)) {
    ctx.security('console sign-in with a bad admin token', { remote: ctx.remote });
    ctx.service.limits.client.take(clientKey(ctx.remote));
    ctx.info.outcome = 'refused';
    // A 401 names its challenge (RFC 9110 section 15.5.2): a sign-in form that sets a cookie
    // (the scheme of draft-broyer-http-cookie-auth; browsers show the page, not a dialog).
    return html(loginPage('That is not the admin token.'), 401, { 'www-authenticate': `Cookie realm="glidein console", form-action="/console/login", cookie-name="${COOKIE}"` });
  }
  const s = sessions(ctx.service).create(ctx.service.now());
  ctx.info.outcome = 'signed_in';
  ctx.service.log.info('console sign-in', { remote: ctx.remote });
  return redirect('/console', { 'set-cookie': sessionCookie(s.id, isTls(ctx)) });
}

async function logout(ctx: RequestContext): Promise<unknown> {
  const { s } = await authorizedForm(ctx);
  sessions(ctx.service).end(s.id);
  return redirect('/console', { 'set-cookie': sessionCookie('', isTls(ctx), 0) });
}

/** A GET page for a signed-in operator; anyone else gets the sign-in form. */
function view(render: (ctx: RequestContext, s: Session, rest: string) => Promise<string>): (ctx: RequestContext, rest: string) => Promise<unknown> {
  return async (ctx, rest) => {
    const s = session(ctx);
    if (!s) return ctx.req.url === '/console' ? html(loginPage()) : redirect('/console');
    ctx.info.outcome = 'shown';
    return html(await render(ctx, s, rest));
  };
}

const overview = view(async (ctx) => {
  const { store, metrics } = ctx.service;
  const now = ctx.service.now();
  await metrics.tally.flush(store, now).catch(() => undefined);
  const [entries, pilots, counts] = await Promise.all([queryEntries(store, now), queryPilots(store, {}, now), store.refreshCounts(now - DAY)]);
  return overviewPage(entries, pilots, counts, metrics.recentSecurity, now);
});

const entries = view(async (ctx) => entriesPage(await queryEntries(ctx.service.store, ctx.service.now())));

const pilots = view(async (ctx) => {
  const q = pilotQuery(new URL(ctx.req.url ?? '/', 'http://x').searchParams);
  const now = ctx.service.now();
  const all = await queryPilots(ctx.service.store, {}, now);
  const list = await queryPilots(ctx.service.store, q, now);
  return pilotsPage(list, q, [...new Set(all.map((p) => p.entry))].sort());
});

const pilot = view(async (ctx, s, rest) => {
  let id: string | undefined;
  try {
    id = decodeURIComponent(rest);
  } catch {
    id = undefined;
  }
  if (!isSafeId(id)) throw new HttpRefusal(404, 'not_found', 'no such pilot');
  const p = await queryPilot(ctx.service.store, id, ctx.service.now());
  if (!p) throw new HttpRefusal(404, 'not_found', 'no such pilot');
  const [record] = await ctx.service.store.listPilots({ glideinId: id });
  const confirm = new URL(ctx.req.url ?? '/', 'http://x').searchParams.get('confirm') === 'revoke';
  const refreshes = await ctx.service.store.refreshTimes(id, TIMELINE_REFRESHES);
  return pilotPage(p, parseSummary(record?.validation ?? null), refreshes, s.csrf, confirm);
});

async function revoke(ctx: RequestContext): Promise<unknown> {
  const { form } = await authorizedForm(ctx);
  const id = form.get('glidein_id');
  if (!isSafeId(id) || form.get('confirm') !== 'yes') throw new HttpRefusal(400, 'invalid_request', 'glidein_id and confirm=yes required');
  const n = await ctx.service.store.revokeByGlideinId(id, 'revoked from the console', ctx.service.now());
  ctx.info.glideinId = id;
  ctx.info.outcome = 'revoked';
  ctx.service.log.info('revoked', { glidein_id: id, count: n, via: 'console' });
  return redirect(`/console/pilot/${encodeURIComponent(id)}`);
}

export const consoleRoutes: Route[] = [
  { method: 'GET', path: '/console', limited: true, handle: overview },
  { method: 'POST', path: '/console/login', limited: true, handle: login },
  { method: 'POST', path: '/console/logout', limited: true, handle: logout },
  { method: 'GET', path: '/console/entries', limited: true, handle: entries },
  { method: 'GET', path: '/console/pilots', limited: true, handle: pilots },
  { method: 'GET', path: '/console/pilot/', prefix: true, limited: true, handle: pilot },
  { method: 'POST', path: '/console/revoke', limited: true, handle: revoke },
];
