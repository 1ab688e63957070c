// The log of glidein's HTCondor job wrapper and prepare-job hook: JSON lines appended to the file
// the wrapper config names, never to the job's stdout or stderr (the starter hands those to the job).
import { appendFileSync } from 'node:fs';
import { createLogger, type Logger } from '../../shared/log.ts';
import type { WrapperConfig } from './wrapper-config.ts';

export function wrapperLogger(config: WrapperConfig, component: string): Logger {
  return createLogger({
    format: 'json',
    sink: {
      write: (line: string) => {
        try {
          appendFileSync(config.logFile, line, { mode: 0o600 });
        } catch {
          /* the log is best effort */
        }
        return true;
      },
    },
  }).child({ component, pid: process.pid });
}
