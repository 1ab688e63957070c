// `glidein validate` as a GlideinWMS custom script (issue 24 section 1). glidein_startup.sh runs
// a factory or VO executable as `SCRIPT glidein_config ENTRY_ID` in the glidein's work dir, then
// error_augment.sh reads `otrb_output.xml` there; a non-zero exit fails the glidein. This reads
// the requirements from glidein_config, writes otrb_output.xml in error_gen.sh's layout and
// publishes the startd attributes as add_config_line + add_condor_vars_line do.
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isGlideinError } from '../../shared/errors.ts';
import { formatXml } from './format-xml.ts';
import { parseGlideinConfig, publishAttributes, type PublishResult } from './glidein-config.ts';
import type { ValidationReport } from './types.ts';

/** The glidein_config key that carries the requirements: `KEY=VALUE` items separated by spaces, as `--require` takes them. */
export const REQUIRE_KEY = 'GLIDEIN_VALIDATE_REQUIRE';

/** The file error_augment.sh reads in the glidein's work dir. */
export const RESULT_FILE = 'otrb_output.xml';

export interface GlideinScriptInput {
  values: Map<string, string>;
  requirements: string[];
}

/** glidein_config read; the requirement items of REQUIRE_KEY (none when absent or blank). */
export async function readGlideinScriptInput(configPath: string): Promise<GlideinScriptInput> {
  const values = parseGlideinConfig(await readFile(configPath, 'utf8'));
  const requirements = (values.get(REQUIRE_KEY) ?? '').split(/\s+/).filter((s) => s !== '');
  return { values, requirements };
}

/** A report for what stopped the script before the checks ran (a bad requirement, an unreadable file): category Config. */
export function configFailureReport(detail: string): ValidationReport {
  return {
    status: 'ERROR',
    durationMs: 0,
    checks: [{ name: 'config', status: 'fail', value: null, required: null, detail, failure: 'Config' }],
    attributes: {},
  };
}

/** Write otrb_output.xml in DIR whole or not at all. */
export async function writeResultFile(dir: string, report: ValidationReport, end = new Date()): Promise<string> {
  const path = join(dir, RESULT_FILE);
  const tmp = join(dir, `.${RESULT_FILE}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, formatXml(report, { envelope: false, end }), { mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return path;
}

/** Publish the report's attributes; a failure to do so fails the script as Config (the startd would lack them). */
export async function publishOrFail(configPath: string, report: ValidationReport): Promise<{ report: ValidationReport; published: PublishResult | null }> {
  try {
    return { report, published: await publishAttributes(configPath, report.attributes) };
  } catch (e) {
    const why = isGlideinError(e) || e instanceof Error ? e.message : String(e);
    return { report: configFailureReport(`cannot publish the attributes through ${configPath}: ${why}`), published: null };
  }
}
