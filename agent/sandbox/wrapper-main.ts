// 'wrapper': not implemented yet (a later issue builds it).
import { GlideinError } from '../../shared/errors.ts';
import type { CommandContext } from '../command.ts';

export async function run(_argv: string[], _ctx: CommandContext): Promise<number> {
  throw new GlideinError('GLIDEIN_ERR_NOT_IMPLEMENTED', 'wrapper: not implemented yet');
}
