// A running service takes a new config (SIGHUP on 'serve'): entries and IdPs, lifetimes, rate
// limits, connection limits and timeouts, the POOL keys (re-read from their files). Everything
// is read and checked first; only then is it swapped in, between two requests, so no
// connection is dropped and a bad config changes nothing. Keys that shape the state or the
// service's identity need a restart and are refused if changed.
import type { Server } from 'node:http';
import { readPoolKeyFile } from './pool-key-file.ts';
import { ConfigError } from '../shared/errors.ts';
import type { ServiceConfig } from './config.ts';
import { openEntryRuntime } from './entries/entry-runtime.ts';
import type { ServiceRuntime } from './http/request-context.ts';
import { RateLimiter, REGRANT_LIMIT } from './rate-limit.ts';

/** Config keys a running service cannot change (restart it instead). */
export const RESTART_KEYS = ['database', 'databasePasswordFile', 'stateSynchronous', 'publicUrl', 'issuer', 'allowInsecureHttp', 'heartbeatTimeout'] as const;

function limiters(c: ServiceConfig): ServiceRuntime['limits'] {
  return {
    global: new RateLimiter({ rate: c.rateLimit.globalPerSecond, burst: c.rateLimit.globalBurst }),
    family: new RateLimiter({ rate: c.rateLimit.familyPerMinute / 60, burst: c.rateLimit.familyBurst }),
    client: new RateLimiter({ rate: c.rateLimit.clientPerSecond, burst: c.rateLimit.clientBurst }),
    regrant: new RateLimiter(REGRANT_LIMIT),
  };
}

/** Swap `next` into the running service, or throw (ConfigError) leaving it untouched. Returns the keys that changed. */
export async function reloadService(service: ServiceRuntime, server: Server, next: ServiceConfig): Promise<string[]> {
  const old = service.config;
  const same = (k: keyof ServiceConfig) => JSON.stringify(old[k]) === JSON.stringify(next[k]);
  const fixed = RESTART_KEYS.filter((k) => !same(k));
  if (fixed.length > 0) throw new ConfigError(`${fixed.join(', ')} cannot change while serving; restart the service to change ${fixed.length === 1 ? 'it' : 'them'}`);
  // Everything that can fail, before anything changes.
  const poolKey = await readPoolKeyFile(next.poolSigningKeyFile, 'poolSigningKeyFile');
  const entries = await openEntryRuntime(next, poolKey);
  const changed = (Object.keys(next) as (keyof ServiceConfig)[]).filter((k) => !same(k));
  service.config = next;
  service.mint = { ...service.mint, config: next, poolKey, entries };
  if (!same('rateLimit')) service.limits = limiters(next);
  server.maxConnections = next.maxConnections;
  server.headersTimeout = next.headersTimeoutMs;
  server.requestTimeout = next.requestTimeoutMs;
  return changed;
}
