// `--format json`: the contract's one object (DESIGN.md section 5), and nothing else.
import type { ValidationReport } from './types.ts';

export function formatJson(report: ValidationReport): string {
  const { status, durationMs, checks, attributes } = report;
  return JSON.stringify({
    status,
    durationMs,
    checks: checks.map(({ name, status: s, value, required, detail, failure }) => ({ name, status: s, value, required, detail, failure })),
    attributes,
  }, null, 2) + '\n';
}
