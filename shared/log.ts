// Logging to stderr: human lines on a terminal, JSON lines otherwise (or with --log-format json).
// Every field and message passes through redaction: no secret reaches a log line.
import { redact, redactText } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'human' | 'json';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  sink?: LogSink;
  /** Fields added to every line (component, glidein id …). */
  bindings?: Record<string, unknown>;
  now?: () => Date;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A security event: always logged at warn or above with `security: true`. */
  security(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
  readonly format: LogFormat;
}

export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'human' : 'json';
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  return value in LEVELS ? (value as LogLevel) : undefined;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? defaultLogFormat();
  const threshold = LEVELS[options.level ?? 'info'];
  const sink = options.sink ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const bindings = options.bindings ?? {};

  const emit = (level: LogLevel, msg: string, fields: Record<string, unknown> | undefined, extra?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    const safeFields = redact({ ...bindings, ...extra, ...fields }) as Record<string, unknown>;
    const safeMsg = redactText(msg);
    const ts = now().toISOString();
    if (format === 'json') {
      sink.write(JSON.stringify({ ts, level, msg: safeMsg, ...safeFields }) + '\n');
      return;
    }
    const rest = Object.entries(safeFields)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    sink.write(`${ts.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${safeMsg}${rest ? '  ' + rest : ''}\n`);
  };

  return {
    format,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    security: (m, f) => emit('warn', m, f, { security: true }),
    child: (b) => createLogger({ ...options, format, bindings: { ...bindings, ...b } }),
  };
}

/** A logger that drops everything (library defaults, tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ sink: { write: () => true }, level: 'error', format: 'json' });
