// The human table (default format). On a terminal each row is printed as its check completes,
// with its time; otherwise the whole table is printed at the end.
import { formatBytes } from './size.ts';
import type { CheckResult, ValidationReport } from './types.ts';

const COLUMNS = [
  ['CHECK', 12],
  ['STATUS', 7],
  ['VALUE', 28],
  ['REQUIRED', 12],
  ['TIME', 8],
] as const;

function show(name: string, v: CheckResult['value']): string {
  if (v === null) return '-';
  if (Array.isArray(v)) return v.length ? v.join(',') : '-';
  if (typeof v === 'number' && (name === 'memory' || name === 'disk')) return formatBytes(v);
  return String(v);
}

function cell(text: string, width: number): string {
  return text.length > width - 1 ? text.slice(0, width - 2) + '… ' : text.padEnd(width);
}

export function tableHeader(): string {
  return COLUMNS.map(([h, w]) => cell(h, w)).join('') + 'DETAIL\n';
}

export function tableRow(r: CheckResult, durationMs?: number): string {
  const values = [r.name, r.status.toUpperCase(), show(r.name, r.value), show(r.name, r.required), durationMs === undefined ? '' : `${durationMs}ms`];
  // A check's name is never cut (a script's `script/<name>` is longer than the column): the row shifts instead.
  return values.map((v, i) => (i === 0 && v.length > COLUMNS[0][1] - 1 ? `${v} ` : cell(v, COLUMNS[i]![1]))).join('') + r.detail + '\n';
}

export function tableFooter(report: ValidationReport): string {
  const failed = report.checks.filter((c) => c.status === 'fail');
  const why = failed.length ? `: ${failed.map((c) => `${c.name} (${c.failure})`).join(', ')} failed` : '';
  return `\n${report.status}${why} in ${report.durationMs} ms\n`;
}

/** The whole table at once; `timings` (check name → ms) fills the TIME column. */
export function formatTable(report: ValidationReport, timings: Record<string, number> = {}): string {
  return tableHeader() + report.checks.map((c) => tableRow(c, timings[c.name])).join('') + tableFooter(report);
}
