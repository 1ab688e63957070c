// `glidein validate`: check this worker node and print the report (table, json, classad or xml).
// With --policy it also runs the identity-switch self-test and the permissions check for the
// policy's accounts. With --glidein-config it is a GlideinWMS custom script (issue 24 section 1):
// requirements from glidein_config, otrb_output.xml in the current directory, attributes
// published through glidein_config and its condor_vars file. Exit 0 when every requirement is
// met, 1 when a check failed (as a custom script also for a bad requirement), 2 for a bad
// flag, requirement or policy.
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isGlideinError, UsageError } from '../../shared/errors.ts';
import { parseCommandArgs, stringFlag, stringListFlag } from '../../shared/cli-args.ts';
import type { CommandContext } from '../command.ts';
import { loadPolicy } from '../sandbox/policy.ts';
import {
  formatClassad, formatJson, formatTable, formatXml, parseRequirements, planIdentityChecks, runValidation,
  tableFooter, tableHeader, tableRow,
} from '../validate/index.ts';
import type { ValidationReport } from '../validate/types.ts';
import { configFailureReport, publishOrFail, readGlideinScriptInput, REQUIRE_KEY, writeResultFile } from '../validate/glidein-script.ts';

const FORMATS = ['table', 'json', 'classad', 'xml'] as const;
type Format = (typeof FORMATS)[number];

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs('validate', argv, {
    format: { type: 'string' },
    require: { type: 'string', multiple: true },
    workdir: { type: 'string' },
    policy: { type: 'string' },
    as: { type: 'string', multiple: true },
    'glidein-config': { type: 'string' },
  });
  const glideinConfig = stringFlag(args, 'glidein-config');
  if (glideinConfig !== undefined) return runAsGlideinScript(resolve(glideinConfig), args, argv, ctx);
  const format = formatOf(args);
  const requirements = parseRequirements(stringListFlag(args, 'require'));
  const workdir = await workdirOf(args, process.cwd());
  const report = await check(args, argv, requirements, workdir, format as Format, ctx);
  return report.status === 'OK' ? 0 : 1;
}

function formatOf(args: ReturnType<typeof parseCommandArgs>): Format {
  const format = stringFlag(args, 'format') ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`validate: --format '${format}' is not valid; expected table, json, classad or xml`);
  }
  return format as Format;
}

async function workdirOf(args: ReturnType<typeof parseCommandArgs>, fallback: string): Promise<string> {
  const workdirFlag = stringFlag(args, 'workdir');
  const workdir = resolve(workdirFlag ?? fallback);
  if (workdirFlag !== undefined) {
    const s = await stat(workdir).catch(() => null);
    if (!s?.isDirectory()) throw new UsageError(`validate: --workdir '${workdirFlag}' is not valid; expected an existing directory`);
  }
  return workdir;
}

/**
 * As a GlideinWMS custom script: a problem of glidein_config or of its requirements is a
 * validation failure (category Config) reported in otrb_output.xml, never a bare exit 2, which
 * GlideinWMS would report as "The test script did not produce an XML file".
 */
async function runAsGlideinScript(configPath: string, args: ReturnType<typeof parseCommandArgs>, argv: string[], ctx: CommandContext): Promise<number> {
  const format = formatOf(args);
  const workdir = await workdirOf(args, dirname(configPath));
  let report: ValidationReport;
  try {
    const input = await readGlideinScriptInput(configPath);
    let requirements;
    try {
      requirements = parseRequirements([...input.requirements, ...stringListFlag(args, 'require')]);
    } catch (e) {
      if (!isGlideinError(e)) throw e;
      throw new UsageError(`${REQUIRE_KEY} in ${configPath}: ${e.message.replace(/^validate: /, '')}`, { cause: e });
    }
    report = await check(args, argv, requirements, workdir, format, ctx);
    const outcome = await publishOrFail(configPath, report);
    report = outcome.report;
    if (outcome.published) ctx.log.info('validate: attributes published', { glideinConfig: configPath, published: outcome.published.published.length, leftAsGlideinWmsSet: outcome.published.skipped, condorVarsFile: outcome.published.condorVarsFile });
  } catch (e) {
    if (!isGlideinError(e) && !(e instanceof Error && 'code' in e)) throw e;
    report = configFailureReport(e.message);
    ctx.log.warn('validate: cannot run as a GlideinWMS custom script', { glideinConfig: configPath, detail: e.message });
  }
  const written = await writeResultFile(process.cwd(), report);
  ctx.log.info('validate: result written', { file: written, status: report.status });
  return report.status === 'OK' ? 0 : 1;
}

async function check(args: ReturnType<typeof parseCommandArgs>, argv: string[], requirements: ReturnType<typeof parseRequirements>, workdir: string, format: Format, ctx: CommandContext): Promise<ValidationReport> {
  const policyPath = stringFlag(args, 'policy');
  const asNames = stringListFlag(args, 'as');
  if (asNames.length > 0 && policyPath === undefined) throw new UsageError('validate: --as needs --policy FILE (the site policy whose identity switch is tested)');
  const identity = policyPath === undefined ? {} : await planIdentityChecks(policyPath, asNames, ctx.log);
  // The container check's test image (issue 22): without one the runtime is reported untested.
  const containerTestImage = policyPath === undefined ? null : (await loadPolicy(policyPath)).containers.testImage;

  const live = format === 'table' && ctx.stdout.isTTY === true;
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
  switch (format) {
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
  return report;
}
