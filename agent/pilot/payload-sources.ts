// The payload source a `glidein run` command line asks for (--spool DIR or -- COMMAND; --condor
// joins here). Caller mistakes are exit 2 before anything is created.
import { statSync } from 'node:fs';
import { GlideinError } from '../../shared/errors.ts';
import type { Policy } from '../sandbox/index.ts';
import type { PayloadSource } from './payload-source.ts';
import { CommandSource } from './command-source.ts';
import { SpoolSource } from './spool-source.ts';
import { makeSandboxLaunch } from './sandbox-launch.ts';

export interface SourceFlags {
  spoolDir?: string | undefined;
  command?: string[] | undefined;
  policy?: Policy | undefined;
  idleTimeoutS: number;
}

export function createPayloadSource(f: SourceFlags): PayloadSource {
  if ((f.spoolDir === undefined) === (f.command === undefined || f.command.length === 0)) {
    throw new GlideinError('GLIDEIN_ERR_USAGE', 'run: give exactly one of --spool DIR or -- COMMAND [ARG...]');
  }
  if (f.command !== undefined) return new CommandSource(f.command, f.policy?.containers, f.policy?.audit);
  let ok = false;
  try {
    ok = statSync(f.spoolDir!).isDirectory();
  } catch {
    /* reported below */
  }
  if (!ok) throw new GlideinError('GLIDEIN_ERR_CONFIG', `run: --spool ${f.spoolDir} is not a directory`);
  if (!f.policy) throw new GlideinError('GLIDEIN_ERR_CONFIG', 'run: --spool needs a site policy');
  return new SpoolSource({ dir: f.spoolDir!, idleTimeoutS: f.idleTimeoutS, makeLaunch: makeSandboxLaunch(f.policy) });
}
