// `glidein condor-prepare-job --config FILE` (hidden): HTCondor's prepare-job hook, started by the
// starter through the launcher `glidein run --condor` writes, with the job ad on stdin. Prints
// an update ad that holds the job when its identity will never be accepted here
// (condor/prepare-job.ts); prints nothing otherwise. Its log goes to the wrapper's log file.
import type { CommandContext } from '../command.ts';
import { parseCommandArgs, requiredStringFlag } from '../../shared/cli-args.ts';
import { wrapperLogger } from '../condor/wrapper-log.ts';
import { readWrapperConfig } from '../condor/wrapper-config.ts';
import { prepareCondorJob } from '../condor/prepare-job.ts';

/** A job ad is a few KiB; more than this is not read. */
const MAX_AD_BYTES = 1024 * 1024;

async function readAd(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_AD_BYTES) break;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs('condor-prepare-job', argv, { config: { type: 'string' } });
  const config = readWrapperConfig(requiredStringFlag('condor-prepare-job', args, 'config', 'the job wrapper config written by glidein run --condor'));
  const log = wrapperLogger(config, 'condor-prepare-job');
  const out = await prepareCondorJob({ adText: await readAd(), env: ctx.env, config, log });
  process.stdout.write(out);
  return 0;
}
