// One error family for glidein: a base class with a closed union of stable string codes.
// Tests assert on `code`; the README's error table is checked against ERROR_CODES.

/** Every code, with the process exit code it maps to when it reaches the entry point. */
export const ERROR_CODES = {
  GLIDEIN_ERR_USAGE: 2,
  GLIDEIN_ERR_CONFIG: 2,
  GLIDEIN_ERR_NOT_IMPLEMENTED: 2,
  GLIDEIN_ERR_JOB_SPEC: 2,
  GLIDEIN_ERR_POLICY: 2,
  GLIDEIN_ERR_BUNDLE: 2,
  GLIDEIN_ERR_KEY_FILE: 2,
  GLIDEIN_ERR_ADDRESS_IN_USE: 2,
  GLIDEIN_ERR_TOKEN_MALFORMED: 1,
  GLIDEIN_ERR_TOKEN_INVALID: 1,
  GLIDEIN_ERR_AUTH_METHOD: 2,
  GLIDEIN_ERR_STORE_UNSAFE: 1,
  GLIDEIN_ERR_STORE_NAME: 1,
  GLIDEIN_ERR_STORE_IO: 1,
  GLIDEIN_ERR_IDENTITY: 3,
  GLIDEIN_ERR_LAUNCH: 3,
  GLIDEIN_ERR_PTY_UNAVAILABLE: 3,
  GLIDEIN_ERR_PROBE_TIMEOUT: 1,
  GLIDEIN_ERR_VALIDATION: 1,
  GLIDEIN_ERR_REFRESH: 1,
  GLIDEIN_ERR_HTTP: 1,
  GLIDEIN_ERR_STATE: 1,
  GLIDEIN_ERR_NOT_FOUND: 1,
  GLIDEIN_ERR_INTERNAL: 1,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GlideinErrorOptions {
  cause?: unknown;
  /** Extra structured context; must never hold a secret (it is logged). */
  details?: Record<string, unknown>;
}

export class GlideinError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GlideinErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.name;
    this.code = code;
    this.details = options.details;
  }

  /** The process exit code this error maps to at the entry point. */
  get exitCode(): number {
    return ERROR_CODES[this.code];
  }
}

/** A caller mistake: bad flag, bad argument. The message names the flag and what was expected. */
export class UsageError extends GlideinError {
  constructor(message: string, options?: GlideinErrorOptions) {
    super('GLIDEIN_ERR_USAGE', message, options);
  }
}

/** A bad configuration file or value. The message names the file or key and what was expected. */
export class ConfigError extends GlideinError {
  constructor(message: string, options?: GlideinErrorOptions) {
    super('GLIDEIN_ERR_CONFIG', message, options);
  }
}

export function isGlideinError(e: unknown): e is GlideinError {
  return e instanceof GlideinError;
}

/** The errno-style code of a Node system error (`ENOENT`, `EACCES` …), if any. */
export function errnoCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}
