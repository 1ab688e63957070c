// `--format classad`: `NAME = value` lines usable as startd attributes (HTCondor ClassAd
// literals: integers and reals as is, booleans True/False, strings double-quoted and escaped;
// nested ads and reference lists, HTCondor's GPU properties, as the expressions they are).
import type { AttributeValue, ValidationReport } from './types.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function classAdLiteral(v: AttributeValue): string {
  if (typeof v === 'object') return v.classad;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'UNDEFINED';
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function formatClassad(report: ValidationReport): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(report.attributes)) {
    if (NAME.test(k)) lines.push(`${k} = ${classAdLiteral(v)}`);
  }
  return lines.join('\n') + '\n';
}
