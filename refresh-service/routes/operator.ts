// The operator views over HTTP, admin bearer token required: GET /v1/pilots (query entry,
// status, q: the same filters as 'refresh-service pilots') and GET /v1/entries.
import { isSafeId } from '../../shared/protocol.ts';
import { HttpRefusal } from '../http/refusal.ts';
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { isPilotStatus, PILOT_STATUSES, type PilotQuery } from '../operator/pilot-view.ts';
import { queryEntries, queryPilots } from '../operator/queries.ts';
import { requireAdmin } from './admin.ts';

/** The filters of a pilots query string (`entry`, `status`, `q`), refused (400) when malformed. */
export function pilotQuery(params: URLSearchParams): PilotQuery {
  const q: PilotQuery = {};
  const entry = params.get('entry') || undefined;
  const status = params.get('status') || undefined;
  const search = params.get('q') || undefined;
  if (entry !== undefined) {
    if (!isSafeId(entry)) throw new HttpRefusal(400, 'invalid_request', 'entry: expected letters, digits, and _.@:-');
    q.entry = entry;
  }
  if (status !== undefined) {
    if (!isPilotStatus(status)) throw new HttpRefusal(400, 'invalid_request', `status: expected one of ${PILOT_STATUSES.join(', ')}`);
    q.status = status;
  }
  if (search !== undefined) q.search = search.slice(0, 100);
  return q;
}

/** Refresh counts still in memory go to the store first, so the views include the last minute. */
async function flushTally(ctx: RequestContext): Promise<void> {
  try {
    await ctx.service.metrics.tally.flush(ctx.service.store, ctx.service.now());
  } catch (e) {
    ctx.service.log.warn('refresh counts not stored', { error: e });
  }
}

async function pilots(ctx: RequestContext): Promise<unknown> {
  requireAdmin(ctx);
  const q = pilotQuery(new URL(ctx.req.url ?? '/', 'http://x').searchParams);
  ctx.info.outcome = 'listed';
  return { pilots: await queryPilots(ctx.service.store, q, ctx.service.now()) };
}

async function entries(ctx: RequestContext): Promise<unknown> {
  requireAdmin(ctx);
  await flushTally(ctx);
  ctx.info.outcome = 'listed';
  return { entries: await queryEntries(ctx.service.store, ctx.service.now()) };
}

export const operatorRoutes: Route[] = [
  { method: 'GET', path: '/v1/pilots', limited: true, handle: pilots },
  { method: 'GET', path: '/v1/entries', limited: true, handle: entries },
];
