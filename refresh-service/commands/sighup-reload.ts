// SIGHUP on 'serve': read the config file again and swap it into the running service
// (refresh-service/reload.ts). A config that fails to load or to apply is refused with one
// log line and the running config kept. Reloads run one at a time.
import type { Logger } from '../../shared/log.ts';
import { loadServiceConfig } from '../config.ts';
import type { RunningService } from '../server.ts';

/** Handle SIGHUP until the returned function is called. */
export function reloadOnSighup(service: RunningService, configFile: string | undefined, log: Logger): () => void {
  let chain: Promise<void> = Promise.resolve();
  const reload = async () => {
    if (configFile === undefined) {
      log.warn('SIGHUP: serve was started without --config; nothing to reload');
      return;
    }
    try {
      const changed = await service.reload(await loadServiceConfig(configFile));
      log.info('config reloaded', { file: configFile, changed });
    } catch (e) {
      log.error('config reload refused; the running config is kept', { file: configFile, error: (e as Error).message });
    }
  };
  const onHup = () => {
    chain = chain.then(reload);
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
