// GET /readyz: ready for traffic: the state store answers (one indexed look-up) and commits a
// write (StateStore.probeWrite), both within PROBE_TIMEOUT_MS, and the signing keys are loaded;
// 503 with the reason while draining or when any fails. A look-up alone said "ready" while every
// refresh failed on a full disk or a read-only state.db (issue 26 item 4): a refresh is a write.
// The verdict is kept for CACHE_MS so a flood of probes costs at most one look-up and one small
// commit a second.
import { Reply, type RequestContext, type ServiceRuntime } from '../http/request-context.ts';
import type { Route } from '../http/router.ts';
import { describeStoreError } from '../state/write-watch.ts';

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
  const lookup = storeProblem(service);
  try {
    return { at, problem: await Promise.race([lookup, timeout]) };
  } finally {
    clearTimeout(timer);
  }
}

/** A probe as large as several refresh commits (each a handful of 4 KiB pages). */
const RECOVERY_PROBE_BYTES = 64 * 1024;

/** Why the store cannot serve a refresh now, or undefined when it read and wrote. */
async function storeProblem(service: ServiceRuntime): Promise<string | undefined> {
  try {
    await service.store.getFamily('');
  } catch (e) {
    return `state store unreachable: ${describeStoreError(e)}`;
  }
  // After a failed real write, only a write as large as a refresh's proves the space is back.
  const failure = service.writes.lastFailure;
  try {
    await service.store.probeWrite(failure === undefined ? 0 : RECOVERY_PROBE_BYTES);
  } catch (e) {
    const last = failure === undefined ? '' : `; the last ${failure.method} failed at ${new Date(failure.at).toISOString()}: ${failure.message}`;
    return `state store cannot write: ${describeStoreError(e)}${last}`;
  }
  if (failure !== undefined) service.writes.cleared();
  return undefined;
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
