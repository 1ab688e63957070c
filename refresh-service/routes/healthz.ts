// GET /healthz: the process is up and answering (no state is touched).
import type { Route } from '../http/router.ts';

export const healthzRoute: Route = { method: 'GET', path: '/healthz', limited: false, handle: async () => ({ status: 'ok' }) };
