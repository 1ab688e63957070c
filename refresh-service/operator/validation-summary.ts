// What the operator views keep of a pilot's validation report: its verdict, the first failed
// check and its GlideinWMS failure category, the node's host name (from the report's XML
// operating environment), and one row per check. Kept apart from the last status report,
// which later heartbeats replace.

export interface CheckRow {
  name: string;
  status: string;
  failure: string | null;
  detail: string;
}

export interface ValidationSummary {
  status: 'OK' | 'ERROR';
  failedCheck: string | null;
  failure: string | null;
  node: string | null;
  checks: CheckRow[];
}

const MAX_CHECKS = 32;
const MAX_TEXT = 200;
const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

function text(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : '';
}

/** The host name in `<env name="hostname">…</env>` of a validation XML report, if plausible. */
export function nodeFromXml(xml: unknown): string | null {
  if (typeof xml !== 'string') return null;
  const m = /<env name="hostname">([^<]{1,253})<\/env>/.exec(xml);
  return m && HOST.test(m[1]!) ? m[1]! : null;
}

/** The summary of a status body's `validation`, or undefined when it carries none. */
export function summarizeValidation(body: Record<string, unknown>): ValidationSummary | undefined {
  const v = body['validation'];
  if (typeof v !== 'object' || v === null) return undefined;
  const { status, json, xml } = v as Record<string, unknown>;
  if (status !== 'OK' && status !== 'ERROR') return undefined;
  const rawChecks = (json as { checks?: unknown } | null)?.checks;
  const checks: CheckRow[] = Array.isArray(rawChecks)
    ? rawChecks.slice(0, MAX_CHECKS).filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null).map((c) => ({
        name: text(c['name']),
        status: text(c['status']),
        failure: typeof c['failure'] === 'string' ? text(c['failure']) : null,
        detail: text(c['detail']),
      }))
    : [];
  const failed = checks.find((c) => c.status === 'fail');
  return { status, failedCheck: failed?.name ?? null, failure: failed ? (failed.failure ?? 'WN_Resource') : null, node: nodeFromXml(xml), checks };
}

/** A stored summary read back (undefined if absent or unreadable). */
export function parseSummary(text: string | null): ValidationSummary | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as ValidationSummary;
  } catch {
    return undefined;
  }
}
