// Open the state the operator commands read: `--config FILE` with `database` set opens the shared
// PostgreSQL database; otherwise `--state DIR` names the state directory (its state.db must
// exist: a typo must not create an empty state and report no pilots).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../shared/errors.ts';
import { stringFlag, type ParsedArgs } from '../../shared/cli-args.ts';
import { DEFAULT_CONFIG, loadServiceConfig, type ServiceConfig } from '../config.ts';
import { openStore } from '../context.ts';
import type { StateStore } from '../state/store.ts';

export const STATE_OPTIONS = { state: { type: 'string' }, config: { type: 'string' } } as const;

export async function openOperatorStore(command: string, args: ParsedArgs): Promise<{ store: StateStore; config: ServiceConfig }> {
  const configFile = stringFlag(args, 'config');
  const stateDir = stringFlag(args, 'state');
  const config = configFile === undefined ? DEFAULT_CONFIG : await loadServiceConfig(configFile);
  if (config.database === '') {
    if (stateDir === undefined) throw new UsageError(`${command}: give --state DIR (the service's state directory), or --config FILE with database set`);
    if (!existsSync(join(stateDir, 'state.db'))) throw new UsageError(`${command}: --state ${stateDir}: no state.db there (expected the directory 'refresh-service serve --state' uses)`);
  }
  return { store: await openStore(stateDir ?? '', config), config };
}
