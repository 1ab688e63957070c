// How an error that reaches the entry point is shown (issue 26 item 6): one shape for every
// error, in both log formats, always with its code. JSON: one line {ts, level, msg, code, ...}.
// Human: `glidein: MESSAGE  code=CODE` (plus the error's details as key=value). A stack trace
// only at --log-level debug, for an internal error (a bug) alone. With no --log-format given, a
// usage or config error (exit 2) is a human line even when logs default to JSON (stderr not a
// terminal): that is what a person typing the command reads.
import { isGlideinError } from '../shared/errors.ts';
import type { Logger, LogLevel } from '../shared/log.ts';
import { redact, redactText } from '../shared/redact.ts';

export interface ErrorSink {
  write(chunk: string): unknown;
}

function humanLine(message: string, fields: Record<string, unknown>): string {
  const safe = redact(fields) as Record<string, unknown>;
  const rest = Object.entries(safe)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `glidein: ${redactText(message)}${rest ? '  ' + rest : ''}\n`;
}

/** Report `e` and return the process exit code it maps to. */
export function reportError(e: unknown, o: { log: Logger; stderr: ErrorSink; level: LogLevel; formatGiven: boolean }): number {
  let message: string;
  let fields: Record<string, unknown>;
  let exitCode: number;
  if (isGlideinError(e)) {
    message = e.message;
    fields = { code: e.code, ...e.details, ...(e.cause && o.level === 'debug' ? { cause: e.cause } : {}) };
    exitCode = e.exitCode;
  } else {
    message = `internal error: ${e instanceof Error ? e.message : String(e)}`;
    fields = { code: 'GLIDEIN_ERR_INTERNAL', ...(o.level === 'debug' && e instanceof Error ? { stack: e.stack } : {}) };
    exitCode = 1;
  }
  if (o.log.format === 'json' && (o.formatGiven || exitCode !== 2)) o.log.error(message, fields);
  else o.stderr.write(humanLine(message, fields));
  return exitCode;
}
