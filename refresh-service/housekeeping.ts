// The service's timers: prune spent tokens, old jtis and ended families, recount the live
// families for /metrics (once a minute, so no scrape touches the database), and revoke the
// families whose pilot has sent no status heartbeat for heartbeatTimeout seconds (issue 12
// item 5: a pilot that died without a word must not keep a live family for days).
import type { ServiceRuntime } from './http/request-context.ts';

const PRUNE_INTERVAL_MS = 60_000;
/** Spent tokens are kept a day after they were spent (and families a day past their end) so late reuse is still recognised. */
const PRUNE_GRACE_SECONDS = 24 * 3600;

/** How often to look for silent families: a quarter of the timeout, between 1 s and 60 s. */
export function heartbeatSweepMs(timeoutSeconds: number): number {
  return Math.min(60_000, Math.max(1000, (timeoutSeconds * 1000) / 4));
}

async function sweepSilent(service: ServiceRuntime): Promise<void> {
  const timeout = service.config.heartbeatTimeout;
  const now = service.now();
  const revoked = await service.store.revokeSilentFamilies(now - timeout, `no status heartbeat for ${timeout} s`, now);
  for (const f of revoked) {
    service.metrics.heartbeatRevocations++;
    service.log.warn('family revoked: no status heartbeat', { glidein_id: f.glideinId, entry: f.entry, heartbeat_timeout_s: timeout });
  }
}

/** Start the timers (the first prune and count at once); returns a function that stops them. */
export function startHousekeeping(service: ServiceRuntime): () => void {
  const { store, log, metrics } = service;
  const minute = async () => {
    try {
      await store.prune(service.now(), PRUNE_GRACE_SECONDS);
      metrics.activeFamilies = await store.countActiveFamilies(service.now());
      metrics.activeByEntry = await store.countActiveByEntry(service.now());
      await metrics.tally.flush(store, service.now());
    } catch (e) {
      log.warn('state housekeeping failed', { error: e });
    }
  };
  void minute();
  const timers = [setInterval(minute, PRUNE_INTERVAL_MS)];
  if (service.config.heartbeatTimeout > 0) {
    const sweep = () => sweepSilent(service).catch((e: unknown) => log.warn('heartbeat sweep failed', { error: e }));
    timers.push(setInterval(sweep, heartbeatSweepMs(service.config.heartbeatTimeout)));
  }
  for (const t of timers) t.unref();
  return () => timers.forEach((t) => clearInterval(t));
}
