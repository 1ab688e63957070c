// `glidein condor-job-wrapper --config FILE -- JOB ARG...` (hidden): HTCondor's USER_JOB_WRAPPER,
// started by the starter through the launcher script `glidein run --condor` writes. Its log goes
// to the file the config names, never to the job's stderr.
import type { CommandContext } from '../command.ts';
import { parseCommandArgs, requiredStringFlag } from '../../shared/cli-args.ts';
import { UsageError } from '../../shared/errors.ts';
import { wrapperLogger } from '../condor/wrapper-log.ts';
import { readWrapperConfig } from '../condor/wrapper-config.ts';
import { runCondorJob } from '../condor/job-wrapper.ts';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs('condor-job-wrapper', argv, { config: { type: 'string' } });
  const config = readWrapperConfig(requiredStringFlag('condor-job-wrapper', args, 'config', 'the job wrapper config written by glidein run --condor'));
  if (args.rest === undefined) throw new UsageError('condor-job-wrapper: the job command follows --');
  const log = wrapperLogger(config, 'condor-job-wrapper');
  return runCondorJob({ argv: args.rest, env: ctx.env, config, log });
}
