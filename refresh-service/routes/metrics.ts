// GET /metrics: the Prometheus text exposition of the service's counters. Cheap by design (no
// database work per scrape); admin-only when the config says metricsRequireAdmin.
import type { RequestContext } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { requireAdmin } from './admin.ts';

async function metrics(ctx: RequestContext): Promise<unknown> {
  if (ctx.service.config.metricsRequireAdmin) requireAdmin(ctx);
  return ctx.service.metrics.render();
}

export const metricsRoute: Route = { method: 'GET', path: '/metrics', limited: false, handle: metrics };
