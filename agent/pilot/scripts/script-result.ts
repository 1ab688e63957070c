// What a custom script's otrb_output.xml says, read as GlideinWMS 3.11's error_augment.sh and
// glidein_startup.sh read it (issue 24): kept only when `<OSGTestResult ` is in its first 4 lines,
// `<result>` in its first 8, `</OSGTestResult>` in its last 4, a `</result>` and a `<status>`
// line agree with the exit code; then every `<metric ` line and the `<detail>` lines.
import type { FailureCategory } from '../../validate/types.ts';

export interface ScriptXml {
  /** False: GlideinWMS would report "The test script did not produce an XML file". */
  kept: boolean;
  status: 'OK' | 'ERROR';
  failure: FailureCategory | string | null;
  metrics: Record<string, string>;
  detail: string;
}

const unescape = (s: string) => s.replace(/&(lt|gt|quot|apos|amp|#(\d+));/g, (_, n: string, d?: string) => (d ? String.fromCodePoint(Number(d)) : ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[n]!));

export function readScriptXml(text: string | null, exitCode: number): ScriptXml {
  const status = exitCode === 0 ? 'OK' : 'ERROR';
  const none: ScriptXml = { kept: false, status, failure: null, metrics: {}, detail: 'The test script did not produce an XML file.' };
  if (text === null) return none;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const statusLines = lines.filter((l) => l.includes('<status>'));
  const kept =
    lines.slice(0, 4).some((l) => l.includes('<OSGTestResult ')) &&
    lines.slice(0, 8).some((l) => l.includes('<result>')) &&
    lines.slice(-4).some((l) => l.includes('</OSGTestResult>')) &&
    lines.some((l) => l.includes('</result>')) &&
    statusLines.length > 0 &&
    (exitCode === 0 ? statusLines.some((l) => l.includes('OK')) : !statusLines.some((l) => l.includes('OK')));
  if (!kept) return none;
  const metrics: Record<string, string> = {};
  for (const l of lines) {
    const m = /<metric name="([^"]*)"[^>]*>(.*)<\/metric>/.exec(l);
    if (m) metrics[unescape(m[1]!)] = unescape(m[2]!);
  }
  const from = lines.findIndex((l) => l.includes('<detail>'));
  const to = lines.findIndex((l) => l.includes('</detail>'));
  const detail = from >= 0 && to > from ? lines.slice(from + 1, to).map((l) => unescape(l.trim())).join('\n') : '';
  return { kept, status, failure: metrics['failure'] ?? null, metrics, detail };
}
