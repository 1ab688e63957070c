// Where the shared PostgreSQL state lives: the `database` config key (a libpq-style URL without
// a password) and the password from `databasePasswordFile` (a 0600 file) or PGPASSWORD. The
// password never sits in the config or the URL, so a config file can be shared and logged.
import { ConfigError } from '../../shared/errors.ts';
import { readSecretFile } from '../state-dir.ts';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface DatabaseSettings {
  /** Host name or IP, or the directory of the unix socket (an absolute path). */
  host: string;
  port: number;
  user: string;
  database: string;
  ssl: SslMode;
  connectTimeoutSeconds: number;
  /** The URL as configured (it holds no secret), for messages. */
  display: string;
}

const DEFAULT_SOCKET_DIR = '/var/run/postgresql';
const QUERY_KEYS = new Set(['host', 'port', 'sslmode', 'connect_timeout']);
const SSL_MODES: Record<string, SslMode> = { disable: 'disable', allow: 'prefer', prefer: 'prefer', require: 'require', 'verify-ca': 'verify-full', 'verify-full': 'verify-full' };

/**
 * Parse `postgres://USER@HOST:PORT/DB` (also `postgresql://`; HOST may be `[v6]`, or a
 * percent-encoded socket directory, or given as `?host=/run/postgresql`). Throws ConfigError
 * naming `key` for anything else, and for any password in the URL.
 */
export function parseDatabaseUrl(value: string, file: string, key = 'database'): DatabaseSettings {
  const bad = (why: string) => new ConfigError(`${file}: ${key}: ${why}`);
  // libpq allows an empty host after the user (postgres://USER@/DB?host=/run/postgresql); WHATWG URL does not.
  const emptyHost = /^[a-z]+:\/\/[^/?#@]*@(?=[/?]|$)/.test(value);
  let u: URL;
  try {
    u = new URL(emptyHost ? value.replace('@', '@empty.invalid') : value);
  } catch {
    throw bad(`expected a URL like postgres://USER@HOST:5432/DB (got ${JSON.stringify(value.replace(/:[^@/]*@/, ':***@')).slice(0, 80)})`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw bad(`expected a postgres:// or postgresql:// URL (got scheme ${u.protocol})`);
  if (u.password !== '' || u.searchParams.has('password')) throw bad('the URL holds a password; put it in the 0600 file named by databasePasswordFile, or in PGPASSWORD, never in the config');
  if (u.hash) throw bad('expected no #fragment');
  for (const k of u.searchParams.keys()) if (!QUERY_KEYS.has(k)) throw bad(`unknown parameter '${k}'; expected ${[...QUERY_KEYS].join(', ')}`);
  const user = decodeURIComponent(u.username);
  if (user === '') throw bad('expected a user: postgres://USER@HOST:PORT/DB');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw bad('expected a database name: postgres://USER@HOST:PORT/DB');
  const host = u.searchParams.get('host') ?? ((emptyHost ? '' : decodeURIComponent(u.hostname.replace(/^\[(.*)\]$/, '$1'))) || DEFAULT_SOCKET_DIR);
  if (host.includes('/') && !host.startsWith('/')) throw bad(`a unix-socket host must be an absolute directory (got ${host})`);
  const portText = u.searchParams.get('port') ?? (u.port || '5432');
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw bad(`port: expected 1 to 65535 (got ${portText})`);
  const sslText = u.searchParams.get('sslmode') ?? (host.startsWith('/') ? 'disable' : 'prefer');
  const ssl = SSL_MODES[sslText];
  if (ssl === undefined) throw bad(`sslmode: expected one of ${Object.keys(SSL_MODES).join(', ')} (got ${sslText})`);
  const timeoutText = u.searchParams.get('connect_timeout') ?? '10';
  const connectTimeoutSeconds = Number(timeoutText);
  if (!/^\d{1,4}$/.test(timeoutText) || connectTimeoutSeconds < 1) throw bad(`connect_timeout: expected whole seconds from 1 (got ${timeoutText})`);
  return { host, port, user, database, ssl, connectTimeoutSeconds, display: value };
}

/**
 * The database password: the contents of `passwordFile` (which must be a regular 0600 file,
 * trailing newline dropped) when set, else PGPASSWORD, else none (peer or trust auth).
 */
export async function readDatabasePassword(passwordFile: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (passwordFile !== '') {
    const text = (await readSecretFile(passwordFile)).replace(/\r?\n$/, '');
    if (text === '' || text.includes('\n')) throw new ConfigError(`databasePasswordFile ${passwordFile}: expected the password on one line`);
    return text;
  }
  const fromEnv = env['PGPASSWORD'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}
