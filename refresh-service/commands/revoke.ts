// 'refresh-service revoke': revoke one pilot (--glidein-id) or every pilot of an entry (--entry).
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import { loadServiceConfig } from '../config.ts';
import { revokePilots } from '../revoke.ts';

const COMMAND = 'refresh-service revoke';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { state: { type: 'string' }, config: { type: 'string' }, 'glidein-id': { type: 'string' }, entry: { type: 'string' } });
  const stateDir = requiredStringFlag(COMMAND, args, 'state', 'the state directory');
  const glideinId = stringFlag(args, 'glidein-id');
  const entry = stringFlag(args, 'entry');
  // --config: the same config as serve, so a shared database is found (else the state dir's SQLite).
  const configFile = stringFlag(args, 'config');
  const config = configFile === undefined ? undefined : await loadServiceConfig(configFile);
  const revoked = await revokePilots({ stateDir, ...(config === undefined ? {} : { config }), ...(glideinId === undefined ? {} : { glideinId }), ...(entry === undefined ? {} : { entry }) });
  ctx.log.info('revoked', { ...(glideinId === undefined ? { entry } : { glidein_id: glideinId }), count: revoked });
  ctx.stdout.write(JSON.stringify({ revoked }) + '\n');
  return 0;
}
