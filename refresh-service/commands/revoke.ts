// 'refresh-service revoke': revoke one pilot (--glidein-id) or every pilot of an entry (--entry).
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import { revokePilots } from '../revoke.ts';

const COMMAND = 'refresh-service revoke';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { state: { type: 'string' }, 'glidein-id': { type: 'string' }, entry: { type: 'string' } });
  const stateDir = requiredStringFlag(COMMAND, args, 'state', 'the state directory');
  const glideinId = stringFlag(args, 'glidein-id');
  const entry = stringFlag(args, 'entry');
  const revoked = await revokePilots({ stateDir, ...(glideinId === undefined ? {} : { glideinId }), ...(entry === undefined ? {} : { entry }) });
  ctx.log.info('revoked', { ...(glideinId === undefined ? { entry } : { glidein_id: glideinId }), count: revoked });
  ctx.stdout.write(JSON.stringify({ revoked }) + '\n');
  return 0;
}
