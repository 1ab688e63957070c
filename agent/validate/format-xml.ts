// `--format xml`: an OSGTestResult 4.3.1 document as GlideinWMS writes it (INTEROP.md): the
// operating environment, the test's start and end, and a result whose status is OK or ERROR;
// on ERROR the `failure` metric carries the GlideinWMS category and `TestID` names the failing
// check. The startd attributes go in as metrics.
import { hostname, userInfo, machine } from 'node:os';
import type { ValidationReport } from './types.ts';

export interface XmlContext {
  clientName?: string;
  clientGroup?: string;
  user?: string;
  arch?: string;
  hostname?: string;
  cwd?: string;
  /** The command line recorded in `<cmd>`. */
  cmd?: string;
  /** When the checks ended (default now); the start is this minus the report's duration. */
  end?: Date;
}

// Everything outside XML 1.0's `Char` production (section 2.2): C0 controls but tab, LF and CR;
// lone surrogates (a JavaScript string can hold them; UTF-8 cannot); U+FFFE and U+FFFF. No
// escape can carry them (`&#1;` is not well-formed either), so they are dropped.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML_CHAR, '')
    .replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** `2026-11-22T13:00:11+00:00`, the form GlideinWMS writes. */
function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function formatXml(report: ValidationReport, context: XmlContext = {}): string {
  const end = context.end ?? new Date();
  const start = new Date(end.getTime() - report.durationMs);
  const ts = isoSeconds(end);
  let user = context.user;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = String(process.getuid?.() ?? '');
    }
  }
  const env: [string, string | undefined][] = [
    ['client_name', context.clientName],
    ['client_group', context.clientGroup],
    ['user', user],
    ['arch', context.arch ?? machine()],
    ['hostname', context.hostname ?? hostname()],
    ['cwd', context.cwd ?? process.cwd()],
  ];
  const metric = (name: string, value: string) => `    <metric name="${escapeXml(name)}" ts="${ts}" uri="local">${escapeXml(value)}</metric>`;
  const failed = report.checks.filter((c) => c.status === 'fail');
  const lines = [
    '<?xml version="1.0"?>',
    '<OSGTestResult id="glidein_validate" version="4.3.1">',
    '  <operatingenvironment>',
    ...env.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `    <env name="${escapeXml(k)}">${escapeXml(v!)}</env>`),
    '  </operatingenvironment>',
    '  <test>',
    `    <cmd>${escapeXml(context.cmd ?? 'glidein validate')}</cmd>`,
    `    <tStart>${isoSeconds(start)}</tStart>`,
    `    <tEnd>${ts}</tEnd>`,
    '  </test>',
    '  <result>',
    `    <status>${report.status}</status>`,
  ];
  const first = failed[0];
  if (first) {
    lines.push(metric('failure', first.failure ?? 'WN_Resource'), metric('TestID', first.name));
  }
  for (const [k, v] of Object.entries(report.attributes)) {
    lines.push(metric(k, typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v)));
  }
  lines.push('  </result>', '  <detail>');
  const detailChecks = failed.length ? failed : report.checks;
  for (const c of detailChecks) lines.push(`    ${escapeXml(`${c.name}: ${c.status}: ${c.detail}`)}`);
  lines.push('  </detail>', '</OSGTestResult>');
  return lines.join('\n') + '\n';
}
