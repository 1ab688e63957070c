// 'refresh-service rotate-key': generate a new S-CRED signing key and make it the active one.
// In the state dir (--state) or, with --config naming a database, in the shared PostgreSQL
// database. Running instances pick it up within about a second (SigningKeyWatcher); the
// previous keys stay published in the JWKS, so S-CREDs already issued still verify.
import { existsSync } from 'node:fs';
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, stringFlag } from '../../shared/cli-args.ts';
import { UsageError } from '../../shared/errors.ts';
import { loadServiceConfig } from '../config.ts';
import { rotateSigningKey, type ScitokenSigningKey } from '../signing-keys.ts';
import { rotateSharedSigningKey } from '../state/postgres-context.ts';

const COMMAND = 'refresh-service rotate-key';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { state: { type: 'string' }, config: { type: 'string' } });
  const configFile = stringFlag(args, 'config');
  const stateDir = stringFlag(args, 'state');
  const config = configFile === undefined ? undefined : await loadServiceConfig(configFile);
  let key: ScitokenSigningKey;
  if (config !== undefined && config.database !== '') {
    key = await rotateSharedSigningKey(config);
  } else {
    if (stateDir === undefined) throw new UsageError(`${COMMAND}: give --state DIR (the service's state directory), or --config FILE with database set`);
    // A typo must not create a new state dir with a lone key that no service reads.
    if (!existsSync(stateDir)) throw new UsageError(`${COMMAND}: --state ${stateDir}: no such directory (expected the directory 'refresh-service serve --state' uses)`);
    key = await rotateSigningKey(stateDir);
  }
  ctx.log.info('signing key rotated', { kid: key.kid });
  ctx.stdout.write(JSON.stringify({ kid: key.kid, created_at: key.createdAt }) + '\n');
  return 0;
}
