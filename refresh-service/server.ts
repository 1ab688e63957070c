// The refresh service: opens the state, listens (HTTP or HTTPS), and hands every request to the
// router (refresh-service/routes: refresh, status, admin, discovery, metrics, healthz). Every
// input is untrusted: bodies are capped while they stream in, slow clients time out,
// connections are bounded, and every refusal is a JSON error with a 4xx status (DESIGN.md
// section 9). close() drains in-flight requests (bounded) and closes the state.
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../shared/log.ts';
import { effectiveIssuer, type ServiceConfig } from './config.ts';
import { openServiceContext } from './context.ts';
import { SigningKeyWatcher } from './signing-keys.ts';
import { Metrics } from './metrics.ts';
import { RateLimiter, REGRANT_LIMIT } from './rate-limit.ts';
import { adminTokenPath, ensureAdminToken } from './state-dir.ts';
import { existsSync } from 'node:fs';
import { adminTokenHashFor } from './state/postgres-context.ts';
import { answerClientErrors, createLimitedServer, listenOn, parseListen, type TlsFiles } from './http/listener.ts';
import { checkServeTransport } from './transport-policy.ts';
import type { ServiceRuntime } from './http/request-context.ts';
import { Router } from './http/router.ts';
import { ROUTES } from './routes/index.ts';
import { startHousekeeping } from './housekeeping.ts';
import { reloadService } from './reload.ts';
import { WriteWatch, watchWrites } from './state/write-watch.ts';

export { parseListen };

const DEFAULT_LISTEN = '127.0.0.1:8443';
const DRAIN_DEADLINE_MS = 10_000;

export interface StartOptions {
  stateDir: string;
  config: ServiceConfig;
  /** HOST:PORT (IPv6 as [::1]:PORT); port 0 picks a free port. Default 127.0.0.1:8443. */
  listen?: string;
  tls?: TlsFiles;
  log?: Logger;
  /** Make a missing state dir (default true; 'serve' gives false unless --init). */
  createStateDir?: boolean;
}

export interface RunningService {
  /** The address the server listens on, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** The base URL glideins use (config publicUrl, else `url`). */
  publicUrl: string;
  /** Stop accepting, let in-flight requests finish (bounded), close the state. */
  close(): Promise<void>;
  /** Apply a new config without dropping connections (refresh-service/reload.ts); throws, changing nothing, if it is refused. */
  reload(config: ServiceConfig): Promise<string[]>;
}

/**
 * A state dir that got new keys or a new admin token is a new service identity: pilots
 * registered elsewhere cannot refresh here, and admin clients need the new token. Say so
 * loudly, so a mistyped --state is noticed at once (issue 26 item 4).
 */
function warnOfNewIdentity(log: Logger, stateDir: string, made: { stateDir: boolean; signingKey: boolean }, adminToken: boolean, kid: string): void {
  const what = [made.stateDir ? 'state directory' : '', made.signingKey ? `S-CRED signing key ${kid}` : '', adminToken ? `admin token ${adminTokenPath(stateDir)}` : ''].filter((w) => w !== '');
  if (what.length === 0) return;
  log.warn('new service identity made', {
    state: stateDir,
    made: what,
    hint: 'bundles registered with another state dir or database will not refresh here; if --state was meant to name an existing service, stop and correct it',
  });
}

export async function startRefreshService(options: StartOptions): Promise<RunningService> {
  const { config, stateDir } = options;
  const listen = options.listen ?? DEFAULT_LISTEN;
  const log = (options.log ?? silentLogger).child({ component: 'refresh-service' });
  checkServeTransport(config, { given: listen, host: parseListen(listen).host }, options.tls !== undefined);
  const server = await createLimitedServer(config, options.tls);
  const ctx = await openServiceContext(stateDir, config, { createStateDir: options.createStateDir !== false });
  const hadAdminToken = existsSync(adminTokenPath(stateDir));
  let adminTokenHash: Buffer;
  try {
    // With a shared database, the hash the first instance published (state/postgres-context.ts).
    adminTokenHash = await adminTokenHashFor(ctx.store, await ensureAdminToken(stateDir));
    await listenOn(server, listen);
  } catch (e) {
    await ctx.store.close();
    throw e;
  }
  const metrics = new Metrics();
  server.on('error', (e) => log.error('server error', { error: e }));
  answerClientErrors(server, (status) => metrics.observe('other', `client_error_${status}`, 0));

  const addr = server.address() as AddressInfo;
  const url = `${options.tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const publicUrl = config.publicUrl !== '' ? config.publicUrl : url;
  const issuer = effectiveIssuer(config, publicUrl);
  const writes = new WriteWatch();
  const store = watchWrites(ctx.store, writes);
  const service: ServiceRuntime = {
    config,
    store,
    writes,
    log,
    metrics,
    limits: {
      global: new RateLimiter({ rate: config.rateLimit.globalPerSecond, burst: config.rateLimit.globalBurst }),
      family: new RateLimiter({ rate: config.rateLimit.familyPerMinute / 60, burst: config.rateLimit.familyBurst }),
      client: new RateLimiter({ rate: config.rateLimit.clientPerSecond, burst: config.rateLimit.clientBurst }),
      regrant: new RateLimiter(REGRANT_LIMIT),
    },
    keys: new SigningKeyWatcher(ctx.keySource, ctx.signingKeys),
    mint: { config, issuer, poolKey: ctx.poolKey, signingKeys: ctx.signingKeys, store, entries: ctx.entries },
    publicUrl,
    issuer,
    adminTokenHash,
    now: () => Math.floor(Date.now() / 1000),
    draining: false,
  };
  const router = new Router(service, ROUTES);
  server.on('request', (req, res) => router.dispatch(req, res));

  const stopHousekeeping = startHousekeeping(service);

  warnOfNewIdentity(log, stateDir, ctx.made, !hadAdminToken, ctx.signingKeys.active.kid);
  log.info('refresh service listening', { url, publicUrl, issuer, kid: ctx.signingKeys.active.kid });
  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    publicUrl,
    reload: (next) => reloadService(service, server, next),
    close(): Promise<void> {
      closing ??= (async () => {
        stopHousekeeping();
        service.draining = true;
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive sockets become idle as their last answer goes out (sent with
        // Connection: close): close them as they do, and everything at the deadline.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => server.closeAllConnections(), DRAIN_DEADLINE_MS);
        await drained;
        clearInterval(sweep);
        clearTimeout(deadline);
        await ctx.store.close();
        log.info('refresh service stopped');
      })();
      return closing;
    },
  };
}
