// `glidein validate`: check this worker node and print the report (table, json, classad or xml).
// With --policy it also runs the identity-switch self-test and the permissions check for the
// policy's accounts. Exit 0 when every requirement is met, 1 when a check failed, 2 for a bad
// flag, requirement or policy.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../shared/errors.ts';
import { parseCommandArgs, stringFlag, stringListFlag } from '../../shared/cli-args.ts';
import type { CommandContext } from '../command.ts';
import { loadPolicy } from '../sandbox/policy.ts';
import {
  formatClassad, formatJson, formatTable, formatXml, parseRequirements, planIdentityChecks, runValidation,
  tableFooter, tableHeader, tableRow,
} from '../validate/index.ts';

const FORMATS = ['table', 'json', 'classad', 'xml'] as const;
type Format = (typeof FORMATS)[number];

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs('validate', argv, {
    format: { type: 'string' },
    require: { type: 'string', multiple: true },
    workdir: { type: 'string' },
    policy: { type: 'string' },
    as: { type: 'string', multiple: true },
  });
  const format = stringFlag(args, 'format') ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`validate: --format '${format}' is not valid; expected table, json, classad or xml`);
  }
  const requirements = parseRequirements(stringListFlag(args, 'require'));
  const workdirFlag = stringFlag(args, 'workdir');
  const workdir = resolve(workdirFlag ?? process.cwd());
  if (workdirFlag !== undefined) {
    const s = await stat(workdir).catch(() => null);
    if (!s?.isDirectory()) throw new UsageError(`validate: --workdir '${workdirFlag}' is not valid; expected an existing directory`);
  }
  const policyPath = stringFlag(args, 'policy');
  const asNames = stringListFlag(args, 'as');
  if (asNames.length > 0 && policyPath === undefined) throw new UsageError('validate: --as needs --policy FILE (the site policy whose identity switch is tested)');
  const identity = policyPath === undefined ? {} : await planIdentityChecks(policyPath, asNames, ctx.log);
  // The container check's test image (issue 22): without one the runtime is reported untested.
  const containerTestImage = policyPath === undefined ? null : (await loadPolicy(policyPath)).containers.testImage;

  const live = (format as Format) === 'table' && ctx.stdout.isTTY === true;
  const timings: Record<string, number> = {};
  if (live) ctx.stdout.write(tableHeader());
  const report = await runValidation({
    requirements,
    workdir,
    env: ctx.env,
    signal: ctx.signal,
    ...identity,
    ...(containerTestImage ? { containerTestImage } : {}),
    onCheck: (result, timing) => {
      timings[result.name] = timing.durationMs;
      if (live) ctx.stdout.write(tableRow(result, timing.durationMs));
    },
  });
  switch (format as Format) {
    case 'json':
      ctx.stdout.write(formatJson(report));
      break;
    case 'classad':
      ctx.stdout.write(formatClassad(report));
      break;
    case 'xml':
      ctx.stdout.write(formatXml(report, { cwd: workdir, cmd: ['glidein', 'validate', ...argv].join(' ') }));
      break;
    case 'table':
      ctx.stdout.write(live ? tableFooter(report) : formatTable(report, timings));
      break;
  }
  for (const c of report.checks) if (c.status === 'fail') ctx.log.warn(`validate: ${c.name} failed`, { check: c.name, failure: c.failure, detail: c.detail });
  return report.status === 'OK' ? 0 : 1;
}
