// 'refresh-service migrate': create or upgrade the shared PostgreSQL schema named by the
// config's `database` (serve also does this on start, under the same advisory lock). Prints
// {"database", "from", "to"}. A schema newer than this release knows is refused (exit 1).
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, requiredStringFlag } from '../../shared/cli-args.ts';
import { ConfigError } from '../../shared/errors.ts';
import { loadServiceConfig } from '../config.ts';
import { migrateDatabase } from '../state/postgres-open.ts';

const COMMAND = 'refresh-service migrate';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { config: { type: 'string' } });
  const file = requiredStringFlag(COMMAND, args, 'config', 'the service config naming the database');
  const config = await loadServiceConfig(file);
  if (config.database === '') throw new ConfigError(`${file}: database: expected a PostgreSQL URL for migrate (the SQLite state in --state upgrades itself when opened)`);
  const result = await migrateDatabase(config, { env: ctx.env });
  ctx.log.info(result.from === result.to ? 'schema up to date' : 'schema migrated', { database: result.where, from: result.from, to: result.to });
  ctx.stdout.write(JSON.stringify({ database: result.where, from: result.from, to: result.to }) + '\n');
  return 0;
}
