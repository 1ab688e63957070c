// `--format xml`: an OSGTestResult 4.3.1 document as GlideinWMS reads it (INTEROP.md): a result
// whose status is OK or ERROR; on ERROR the `failure` metric carries the GlideinWMS category and
// `TestID` names the failing check; the startd attributes go in as metrics.
// Layout (issue 24 section 1): GlideinWMS's error_augment.sh keeps a custom script's document
// only if `<OSGTestResult ` is within its first 4 lines, `<result>` within its first 8 and
// `</OSGTestResult>` within its last 4, and glidein_startup.sh carries metrics over with
// `grep '<metric '` and the detail as the lines between `<detail>` and `</detail>`. So the result
// comes right after the root element, every metric is one physical line (a line break in a
// value is written `&#10;`), and the operating environment and the test's times, which
// error_augment.sh adds itself, come after the detail (or not at all: `envelope: false`).
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
  /**
   * false: only `<result>` and `<detail>`, as GlideinWMS's error_gen.sh writes a custom
   * script's otrb_output.xml (error_augment.sh adds the environment and the times). Default true.
   */
  envelope?: boolean;
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

/** Escaped and on one physical line: line breaks become character references. */
function oneLine(text: string): string {
  return escapeXml(text).replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');
}

/** `2026-11-22T13:00:11+00:00`, the form GlideinWMS writes. */
function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function formatXml(report: ValidationReport, context: XmlContext = {}): string {
  const end = context.end ?? new Date();
  const ts = isoSeconds(end);
  const metric = (name: string, value: string) => `    <metric name="${oneLine(name)}" ts="${ts}" uri="local">${oneLine(value)}</metric>`;
  const failed = report.checks.filter((c) => c.status === 'fail');
  const lines = [
    '<?xml version="1.0"?>',
    '<OSGTestResult id="glidein_validate" version="4.3.1">',
    '  <result>',
    `    <status>${report.status}</status>`,
  ];
  const first = failed[0];
  if (first) {
    lines.push(metric('failure', first.failure ?? 'WN_Resource'), metric('TestID', first.name));
  }
  for (const [k, v] of Object.entries(report.attributes)) {
    lines.push(metric(k, typeof v === 'object' ? v.classad : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v)));
  }
  lines.push('  </result>', '  <detail>');
  const detailChecks = failed.length ? failed : report.checks;
  // A detail line never starts with `<`: escaping turns every `<` into `&lt;`.
  for (const c of detailChecks) {
    for (const line of `${c.name}: ${c.status}: ${c.detail}`.split(/\r?\n/)) lines.push(`    ${escapeXml(line)}`);
  }
  lines.push('  </detail>');
  if (context.envelope !== false) lines.push(...envelope(report, context, end));
  lines.push('</OSGTestResult>');
  return lines.join('\n') + '\n';
}

/** The operating environment and the test's command and times. */
function envelope(report: ValidationReport, context: XmlContext, end: Date): string[] {
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
  return [
    '  <operatingenvironment>',
    ...env.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `    <env name="${oneLine(k)}">${oneLine(v!)}</env>`),
    '  </operatingenvironment>',
    '  <test>',
    `    <cmd>${oneLine(context.cmd ?? 'glidein validate')}</cmd>`,
    `    <tStart>${isoSeconds(new Date(end.getTime() - report.durationMs))}</tStart>`,
    `    <tEnd>${isoSeconds(end)}</tEnd>`,
    '  </test>',
  ];
}
