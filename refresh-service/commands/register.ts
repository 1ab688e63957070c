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
    'client-name': { type: 'string' },
    'client-group': { type: 'string' },
    schedd: { type: 'string' },
    'cluster-id': { type: 'string' },
    'proc-id': { type: 'string' },
  });
  const stateDir = requiredStringFlag(COMMAND, args, 'state', 'the state directory');
  const glideinId = requiredStringFlag(COMMAND, args, 'glidein-id', "the pilot's unique id");
  const entry = requiredStringFlag(COMMAND, args, 'entry', 'the factory entry');
  const lifetime = integerFlag(COMMAND, args, 'lifetime', { min: 60, max: 366 * 24 * 3600 });
  const urls = stringListFlag(args, 'url');
  // GlideinWMS's names for the submission (issue 24 section 4): bundle `glideinwms`.
  const glideinwms: Record<string, string | number> = {};
  for (const [flag, field] of [['client-name', 'client_name'], ['client-group', 'client_group'], ['schedd', 'schedd']] as const) {
    const v = stringFlag(args, flag);
    if (v !== undefined) glideinwms[field] = v;
  }
  for (const [flag, field] of [['cluster-id', 'cluster_id'], ['proc-id', 'proc_id']] as const) {
    const v = integerFlag(COMMAND, args, flag, { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (v !== undefined) glideinwms[field] = v;
  }
  const config = await loadServiceConfig(stringFlag(args, 'config'));
  const bundle = await registerPilot({ stateDir, config, glideinId, entry, glideinwms, ...(urls.length === 0 ? {} : { url: urls }), ...(lifetime === undefined ? {} : { lifetime }) });
  ctx.log.info('pilot registered', { glidein_id: glideinId, entry, expiresAt: bundle.expires_at });
  ctx.stdout.write(JSON.stringify(bundle, null, 2) + '\n');
  return 0;
}
