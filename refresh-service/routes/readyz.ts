// GET /readyz: ready for traffic: the state store answers (one indexed look-up, within
// PROBE_TIMEOUT_MS) and the signing keys are loaded; 503 while draining or when either fails.
// The verdict is kept for CACHE_MS so a flood of probes costs at most one look-up a second.
import { Reply, type RequestContext, type ServiceRuntime } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';

const PROBE_TIMEOUT_MS = 2000;
const CACHE_MS = 1000;

interface Verdict {
  at: number;
  problem: string | undefined;
}

const verdicts = new WeakMap<ServiceRuntime, Promise<Verdict>>();

async function probe(service: ServiceRuntime): Promise<Verdict> {
  const at = Date.now();
  if (!service.keys.current.active) return { at, problem: 'no signing key loaded' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`state store did not answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS)));
  const lookup = service.store.getFamily('').then(
    () => undefined,
    (e: unknown) => `state store unreachable: ${(e as Error).message}`,
  );
  try {
    return { at, problem: await Promise.race([lookup, timeout]) };
  } finally {
    clearTimeout(timer);
  }
}

async function readyz(ctx: RequestContext): Promise<unknown> {
  const { service } = ctx;
  if (service.draining) return new Reply(503, { status: 'not_ready', reason: 'draining' });
  let pending = verdicts.get(service);
  const last = pending ? await pending : undefined;
  if (!last || Date.now() - last.at >= CACHE_MS) {
    pending = probe(service);
    verdicts.set(service, pending);
  }
  const v = await pending!;
  ctx.info.outcome = v.problem === undefined ? 'ready' : 'not_ready';
  return v.problem === undefined ? { status: 'ready' } : new Reply(503, { status: 'not_ready', reason: v.problem });
}

export const readyzRoute: Route = { method: 'GET', path: '/readyz', limited: false, handle: readyz };
