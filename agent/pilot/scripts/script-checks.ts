// The entry's scripts in the validation report (issue 24 section 5): one check per listed script,
// named `script/<name>`, next to the node's checks, so every format (JSON, the factory's
// OSGTestResult XML, the table, the startd's ClassAd attributes) carries them as it carries
// the node's; what the scripts exported joins the report's attributes (and so the startd's).
import type { CheckResult, FailureCategory, ValidationReport } from '../../validate/types.ts';
import type { ScriptRunResult } from './run-script.ts';

const CATEGORIES: readonly FailureCategory[] = ['WN_Resource', 'Network', 'Config', 'VO_Config', 'Corruption', 'VO_Proxy'];

export function scriptCheck(r: ScriptRunResult): CheckResult {
  const status = r.outcome === 'ok' ? 'pass' : r.outcome === 'skipped' ? 'skip' : 'fail';
  // A script's own <metric name="failure"> is kept when it is one of GlideinWMS's categories.
  const failure = status !== 'fail' ? null : CATEGORIES.includes(r.failure as FailureCategory) ? (r.failure as FailureCategory) : 'VO_Config';
  const detail = r.detail !== '' ? r.detail : r.outcome === 'ok' ? `${r.name}: exit 0` : r.name;
  return { name: `script/${r.name}`, status, value: r.exitCode, required: r.stage, detail, failure };
}

/** REPORT with the scripts' checks after the node's and their attributes added (the node's win a clash). */
export function withScripts(report: ValidationReport, results: readonly ScriptRunResult[]): ValidationReport {
  const checks = [...report.checks, ...results.map(scriptCheck)];
  const attributes = { ...Object.assign({}, ...results.map((r) => r.attributes)), ...report.attributes };
  return { ...report, durationMs: report.durationMs ?? 0, status: checks.some((c) => c.status === 'fail') ? 'ERROR' : 'OK', checks, attributes };
}
