// 'run': the pilot (DESIGN.md sections 5 and 10). Parses the flags once, wires the validator,
// the sandbox and the lifecycle in agent/pilot, and maps the outcome to the exit code.
import type { CommandContext } from '../command.ts';
import { UsageError } from '../../shared/errors.ts';
import { integerFlag, parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import { runPilot, type PilotOptions } from '../pilot/pilot.ts';
import { checkBundleRequirements, makeValidate } from '../pilot/validation.ts';
import { loadPilotPolicy } from '../pilot/sandbox-launch.ts';
import { checkSpoolPolicy } from '../sandbox/policy.ts';
import { createPayloadSource } from '../pilot/payload-sources.ts';
import { listenForDrainSignals } from '../pilot/signals.ts';
import { detectBatchEnd } from '../pilot/batch-end.ts';
import { CondorSource, condorFlag } from '../condor/index.ts';

// killGraceS 20: well under Slurm's default KillWait (30 s), so the agent's own SIGKILL of a
// payload that ignores SIGTERM, the final report and the wipe happen before Slurm's SIGKILL.
export const RUN_DEFAULTS = { idleTimeoutS: 1200, failureDelayS: 1200, heartbeatIntervalS: 300, killGraceS: 20 } as const;

export async function run(argvIn: string[], ctx: CommandContext): Promise<number> {
  const { argv, condorDir, condor } = condorFlag(argvIn);
  const args = parseCommandArgs('run', argv, {
    bundle: { type: 'string' },
    workdir: { type: 'string' },
    policy: { type: 'string' },
    'idle-timeout': { type: 'string' },
    spool: { type: 'string' },
    'failure-delay': { type: 'string' },
    'keep-workdir': { type: 'boolean' },
    'heartbeat-interval': { type: 'string' },
  });
  const bundlePath = requiredStringFlag('run', args, 'bundle', 'the pilot bundle made by refresh-service register');
  const spoolDir = stringFlag(args, 'spool');
  const command = args.rest;
  if ([spoolDir !== undefined, command !== undefined, condor].filter(Boolean).length > 1) throw new UsageError('run: give one of --spool DIR, --condor [DIR] or -- COMMAND [ARG...], not several');
  if (spoolDir === undefined && !condor && (command === undefined || command.length === 0)) {
    throw new UsageError(command === undefined ? 'run: give --spool DIR, --condor [DIR] or -- COMMAND [ARG...]' : 'run: -- needs a COMMAND after it');
  }
  const policyPath = stringFlag(args, 'policy');
  // Spool jobs come from whoever can write the directory: never run them without a site policy (issue 11 item 7).
  if (spoolDir !== undefined && policyPath === undefined) throw new UsageError('run: --spool needs --policy FILE (the site policy that decides which account runs each job)');
  const policy = await loadPilotPolicy(policyPath, spoolDir !== undefined, ctx.log);
  const pilotIdentityWarning = spoolDir !== undefined && policy ? checkSpoolPolicy(policy) : null;
  if (pilotIdentityWarning) ctx.log.warn(pilotIdentityWarning, { policy: policy!.source });
  const idleTimeoutS = integerFlag('run', args, 'idle-timeout', { min: 1 }) ?? RUN_DEFAULTS.idleTimeoutS;
  const source = condor
    ? await CondorSource.prepare({ bundlePath, condorDir, policyPath, policy, idleTimeoutS, env: ctx.env })
    : createPayloadSource({ spoolDir, command, policy, idleTimeoutS });
  const signals = listenForDrainSignals(ctx.signal);
  const options: PilotOptions = {
    bundlePath,
    workdir: stringFlag(args, 'workdir'),
    source,
    failureDelayS: integerFlag('run', args, 'failure-delay') ?? RUN_DEFAULTS.failureDelayS,
    heartbeatIntervalS: integerFlag('run', args, 'heartbeat-interval', { min: 1 }) ?? RUN_DEFAULTS.heartbeatIntervalS,
    keepWorkdir: args.values['keep-workdir'] === true,
    killGraceS: policy?.killGraceSeconds ?? RUN_DEFAULTS.killGraceS,
    env: ctx.env,
    log: ctx.log,
    signal: signals.signal,
    fastDrain: signals.fast,
    validate: makeValidate(signals.signal, undefined, policy?.containers.testImage ?? null),
    checkRequirements: checkBundleRequirements,
    batchEnd: detectBatchEnd({ env: ctx.env, nowS: Math.floor(Date.now() / 1000) }),
  };
  let summary;
  try {
    summary = await runPilot(options);
  } finally {
    signals.dispose();
  }
  ctx.stdout.write(JSON.stringify(summary) + '\n');
  return summary.exitCode;
}
