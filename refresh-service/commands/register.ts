// 'refresh-service register': register a pilot and print its bundle (JSON) on stdout.
import type { CommandContext } from '../../agent/command.ts';
import { integerFlag, parseCommandArgs, requiredStringFlag, stringFlag, stringListFlag } from '../../shared/cli-args.ts';
import { loadServiceConfig } from '../config.ts';
import { registerPilot } from '../register.ts';

const COMMAND = 'refresh-service register';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, {
    state: { type: 'string' },
    config: { type: 'string' },
    'glidein-id': { type: 'string' },
    entry: { type: 'string' },
    url: { type: 'string', multiple: true },
    lifetime: { type: 'string' },
  });
  const stateDir = requiredStringFlag(COMMAND, args, 'state', 'the state directory');
  const glideinId = requiredStringFlag(COMMAND, args, 'glidein-id', "the pilot's unique id");
  const entry = requiredStringFlag(COMMAND, args, 'entry', 'the factory entry');
  const lifetime = integerFlag(COMMAND, args, 'lifetime', { min: 60, max: 366 * 24 * 3600 });
  const urls = stringListFlag(args, 'url');
  const config = await loadServiceConfig(stringFlag(args, 'config'));
  const bundle = await registerPilot({ stateDir, config, glideinId, entry, ...(urls.length === 0 ? {} : { url: urls }), ...(lifetime === undefined ? {} : { lifetime }) });
  ctx.log.info('pilot registered', { glidein_id: glideinId, entry, expiresAt: bundle.expires_at });
  ctx.stdout.write(JSON.stringify(bundle, null, 2) + '\n');
  return 0;
}
