// GET /metrics: the Prometheus text exposition of the service's counters.
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

async function metrics(ctx: RequestContext): Promise<unknown> {
  const { metrics, store, now } = ctx.service;
  return metrics.render(await store.countActiveFamilies(now()));
}

export const metricsRoute: Route = { method: 'GET', path: '/metrics', limited: false, handle: metrics };
