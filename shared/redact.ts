// Redaction of secrets before anything reaches a log line.
// Tokens are bearer credentials: a token in a log is a token given to whoever reads the log.

const SENSITIVE_KEY = /(token|secret|password|passwd|private|authorization|dpop|proof|cookie|credential|jwk|^key$|_key$|Key$)/i;
// A compact JWS/JWT: three base64url parts, the first starting with '{"' encoded ("eyJ").
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
const BEARER_PATTERN = /\b(Bearer|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
// PEM private key blocks.
const PEM_PATTERN = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

export const REDACTED = '[REDACTED]';

/** Remove anything that looks like a token from free text. */
export function redactText(text: string): string {
  return text
    .replace(PEM_PATTERN, REDACTED)
    .replace(JWT_PATTERN, REDACTED)
    .replace(BEARER_PATTERN, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

/** True if a field of this name may hold a secret, so its value is never logged. */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key) && !/^(token_?type|tokenType|expires|purpose|kid|alg)$/i.test(key);
}

/**
 * Deep copy of a value with every sensitive field replaced and every string scrubbed.
 * Cycles and depth are bounded so a hostile object cannot hang the logger.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactText(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number'
      ? REDACTED
      : redact(v, depth + 1, seen);
  }
  return out;
}
