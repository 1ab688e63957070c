// Opening the shared PostgreSQL state from the service config: settings, password, pool, then
// the schema brought up to date under the migration lock (serve, register, revoke) or only
// checked. A failure closes the pool, so nothing is left half-open.
import { connectDatabase, stateError, type Sql } from './postgres-connect.ts';
import { checkSchemaVersion, migrateSchema, type MigrationResult } from './postgres-schema.ts';
import { parseDatabaseUrl, readDatabasePassword } from './postgres-settings.ts';
import { PostgresStateStore } from './postgres-store.ts';
import { sealingKey } from './postgres-seal.ts';

export interface DatabaseConfig {
  /** postgres://USER@HOST:PORT/DB (checked when the config was parsed). */
  database: string;
  databasePasswordFile: string;
}

export interface OpenOptions {
  /** Create or upgrade the schema first (default true); false only checks its version. */
  migrate?: boolean;
  poolSize?: number;
  env?: NodeJS.ProcessEnv;
  /** The POOL key's derived HS256 key: seals VO tokens (none: the store cannot keep them). */
  poolKey?: Buffer;
}

async function openPool(config: DatabaseConfig, options: OpenOptions): Promise<{ sql: Sql; where: string }> {
  const settings = parseDatabaseUrl(config.database, 'config');
  const password = await readDatabasePassword(config.databasePasswordFile, options.env);
  return { sql: connectDatabase(settings, password, options.poolSize), where: settings.display };
}

export async function openPostgresStore(config: DatabaseConfig, options: OpenOptions = {}): Promise<PostgresStateStore> {
  const { sql, where } = await openPool(config, options);
  try {
    if (options.migrate ?? true) await migrateSchema(sql, where);
    else await checkSchemaVersion(sql, where);
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw stateError(where, e);
  }
  return new PostgresStateStore(sql, where, options.poolKey === undefined ? undefined : sealingKey(options.poolKey));
}

/** `refresh-service migrate`: bring the schema to this release's version; returns from/to. */
export async function migrateDatabase(config: DatabaseConfig, options: Omit<OpenOptions, 'migrate'> = {}): Promise<MigrationResult & { where: string }> {
  const { sql, where } = await openPool(config, { ...options, poolSize: 1 });
  try {
    return { ...(await migrateSchema(sql, where)), where };
  } catch (e) {
    throw stateError(where, e);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
