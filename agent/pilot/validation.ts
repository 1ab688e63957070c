// Node validation for the pilot: the bundle's requirements through the same runner and formats
// as `glidein validate` (JSON report, OSGTestResult XML for the factory, the table for humans).
import { GlideinError, isGlideinError } from '../../shared/errors.ts';
import { parseRequirements, runValidation, formatXml, formatTable } from '../validate/index.ts';
import type { RunValidationOptions } from '../validate/runner.ts';
import type { ValidationReport as FullReport } from '../validate/types.ts';

/** The validation report of `glidein validate --format json` (DESIGN.md section 5). */
export interface ValidationReport {
  status: 'OK' | 'ERROR' | string;
  durationMs?: number;
  checks: { name: string; status: string; value?: unknown; detail?: string; failure?: string | null }[];
  attributes?: Record<string, unknown>;
}

export interface ValidationOutcome {
  report: ValidationReport;
  xml: string;
  table: string;
}

/** `defaultImage`: the bundle's container default image, the container check's test image unless the policy names one. */
export type ValidateFn = (requirements: string[], workdir: string, env: NodeJS.ProcessEnv, defaultImage?: string | null) => Promise<ValidationOutcome>;

/** The usable cores from the validation report (the `cores` check's value). */
export function usableCores(report: ValidationReport): number | undefined {
  const v = report.checks.find((c) => c.name === 'cores')?.value;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The GPUs validation found this pilot may use: full UUIDs (GPU-…, MIG-…) from the gpu check's GLIDEIN_GPU_UUIDS. */
export function validatedGpus(report: ValidationReport): string[] {
  const v = report.attributes?.['GLIDEIN_GPU_UUIDS'];
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => /^(GPU|MIG)-[A-Za-z0-9/-]+$/.test(s)) : [];
}

/** Check the bundle's requirement strings early: a bad one is a bundle problem (exit 2). */
export function checkBundleRequirements(items: string[], bundlePath: string): void {
  try {
    parseRequirements(items);
  } catch (e) {
    if (isGlideinError(e)) throw new GlideinError('GLIDEIN_ERR_BUNDLE', `bundle ${bundlePath}: requirements: ${e.message.replace(/^validate: /, '')}`, { cause: e });
    throw e;
  }
}

/** `identity`: the identity and permissions checks' plan (agent/validate/identity-plan.ts); without it they are skipped. */
export function makeValidate(signal?: AbortSignal, identity?: Pick<RunValidationOptions, 'identityTest' | 'identityAccounts'>, testImage?: string | null): ValidateFn {
  return async (requirements, workdir, env, defaultImage) => {
    const containerTestImage = testImage ?? defaultImage ?? null;
    const report = await runValidation({ requirements: parseRequirements(requirements), workdir, env, ...(signal ? { signal } : {}), ...identity, ...(containerTestImage ? { containerTestImage } : {}) });
    return renderOutcome(report, workdir);
  };
}

/** The report in the pilot's formats: the factory's XML and the table. */
export function renderOutcome(report: FullReport, workdir: string): ValidationOutcome {
  return { report, xml: formatXml(report, { cwd: workdir, clientName: 'glidein', cmd: 'glidein run' }), table: formatTable(report) };
}
