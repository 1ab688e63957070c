// Every route the service answers, in one table (refresh-service/http/router.ts dispatches it).
import type { Route } from '../http/router.ts';
import { adminRoutes } from './admin.ts';
import { consoleRoutes } from './console.ts';
import { discoveryRoutes } from './discovery.ts';
import { healthzRoute } from './healthz.ts';
import { metricsRoute } from './metrics.ts';
import { operatorRoutes } from './operator.ts';
import { readyzRoute } from './readyz.ts';
import { refreshRoute } from './refresh.ts';
import { statusRoute } from './status.ts';
import { tokenRoute } from './token.ts';

export const ROUTES: readonly Route[] = [healthzRoute, readyzRoute, metricsRoute, ...discoveryRoutes, refreshRoute, tokenRoute, statusRoute, ...adminRoutes, ...operatorRoutes, ...consoleRoutes];
