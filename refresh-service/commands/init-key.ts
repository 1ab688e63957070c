// 'refresh-service init-key': make a new HTCondor POOL key at the config's poolSigningKeyFile
// (64 random bytes, scrambled as HTCondor stores them, mode 0600, written atomically), for a
// factory that has no pool yet. An existing key is never overwritten: it signs a live pool.
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, stringFlag } from '../../shared/cli-args.ts';
import { createPoolKeyFile } from '../../shared/idtoken.ts';
import { loadServiceConfig } from '../config.ts';

const COMMAND = 'refresh-service init-key';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { config: { type: 'string' } });
  const config = await loadServiceConfig(stringFlag(args, 'config'));
  await createPoolKeyFile(config.poolSigningKeyFile);
  ctx.log.info('POOL key created', { poolSigningKeyFile: config.poolSigningKeyFile });
  ctx.stdout.write(JSON.stringify({ poolSigningKeyFile: config.poolSigningKeyFile }) + '\n');
  return 0;
}
