// One pool of connections to the shared PostgreSQL database, opened from DatabaseSettings with
// the driver `postgres` (porsager: pure JavaScript, no dependencies, bundles into dist/glidein).
// Every driver failure reaches callers as GLIDEIN_ERR_STATE naming the database, never a secret.
import postgres from 'postgres';
import { GlideinError } from '../../shared/errors.ts';
import type { DatabaseSettings } from './postgres-settings.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/** Connections per instance: enough to keep the event loop busy while commits wait on fsync. */
export const DEFAULT_POOL_SIZE = 16;

/** Open a pool (connections are made on first use). */
export function connectDatabase(settings: DatabaseSettings, password: string | undefined, poolSize = DEFAULT_POOL_SIZE): Sql {
  const socket = settings.host.startsWith('/');
  return postgres({
    host: settings.host,
    port: settings.port,
    ...(socket ? { path: `${settings.host}/.s.PGSQL.${settings.port}` } : {}),
    user: settings.user,
    database: settings.database,
    // Only the password we were given: the driver would otherwise also read PGPASSWORD itself.
    pass: password ?? '',
    ssl: settings.ssl === 'disable' ? false : settings.ssl,
    max: poolSize,
    connect_timeout: settings.connectTimeoutSeconds,
    idle_timeout: 60,
    fetch_types: false,
    // The driver prints NOTICEs (e.g. "already exists, skipping") to stdout unless told not to.
    onnotice: () => {},
    connection: { application_name: 'glidein-refresh-service' },
    types: { int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
}

/** SQLSTATEs after which the whole transaction may simply run again (nothing was committed). */
const RETRYABLE = new Set(['40001', '40P01']);

export function isRetryable(e: unknown): boolean {
  return RETRYABLE.has((e as { code?: string }).code ?? '');
}

/** A driver or network failure as GLIDEIN_ERR_STATE naming the database (GlideinErrors pass through). */
export function stateError(where: string, e: unknown): GlideinError {
  if (e instanceof GlideinError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code && /^[A-Z0-9_]{2,}$/.test(err.code) ? ` (${err.code})` : '';
  return new GlideinError('GLIDEIN_ERR_STATE', `database ${where}: ${err.message ?? String(e)}${code}`, { cause: e });
}
