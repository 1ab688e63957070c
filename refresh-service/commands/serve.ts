// 'refresh-service serve': run the service until SIGTERM/SIGINT, then drain and exit 0.
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import { UsageError } from '../../shared/errors.ts';
import { loadServiceConfig } from '../config.ts';
import { startRefreshService } from '../server.ts';
import { reloadOnSighup } from './sighup-reload.ts';

const COMMAND = 'refresh-service serve';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, {
    state: { type: 'string' },
    config: { type: 'string' },
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    init: { type: 'boolean' },
  });
  const stateDir = requiredStringFlag(COMMAND, args, 'state', 'the state directory');
  const cert = stringFlag(args, 'tls-cert');
  const key = stringFlag(args, 'tls-key');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError(`${COMMAND}: --tls-cert and --tls-key go together`);
  const config = await loadServiceConfig(stringFlag(args, 'config'));
  const service = await startRefreshService({
    stateDir,
    config,
    ...(stringFlag(args, 'listen') === undefined ? {} : { listen: stringFlag(args, 'listen')! }),
    ...(cert === undefined || key === undefined ? {} : { tls: { cert, key } }),
    log: ctx.log,
    // A mistyped --state must not silently become a new service (issue 26 item 4).
    createStateDir: args.values['init'] === true,
  });
  ctx.stdout.write(`${JSON.stringify({ url: service.url, public_url: service.publicUrl })}\n`);
  const stopReloading = reloadOnSighup(service, stringFlag(args, 'config'), ctx.log);
  if (!ctx.signal.aborted) await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  ctx.log.info('draining', { reason: String((ctx.signal.reason as Error | undefined)?.message ?? 'signal') });
  stopReloading();
  await service.close();
  return 0;
}
