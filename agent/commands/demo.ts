// 'demo': the whole system on this machine (DESIGN.md section 11); see agent/pilot/demo.ts.
import type { CommandContext } from '../command.ts';
import { parseCommandArgs } from '../../shared/cli-args.ts';
import { demoLogger, runDemo } from '../pilot/demo.ts';

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  parseCommandArgs('demo', argv, {});
  const outcome = await runDemo({ stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env, signal: ctx.signal, log: demoLogger(ctx.stderr, ctx.log.format, ctx.logLevel) });
  return outcome.exitCode;
}
