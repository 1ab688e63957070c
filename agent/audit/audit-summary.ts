// One line about an audit file for the demo (issue 25): how many job runs it records, as whom.
import { readFileSync } from 'node:fs';
import { parseAuditLine } from './audit-record.ts';

export function auditSummary(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return `no records (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  const records = text.split('\n').map(parseAuditLine).filter((r) => r !== null);
  const ends = records.filter((r) => r.event === 'end');
  const who = [...new Set(ends.map((r) => `${r.sub ?? '?'} as ${r.account ?? '-'}`))].join(', ');
  return `${records.length} records, ${ends.length} job ends (${who || 'none'})`;
}
