// Decoding a JWT WITHOUT checking it: for display, expiry bookkeeping and routing only.
// Trust decisions use verification (jose) elsewhere; nothing decoded here is trusted.
import { GlideinError } from './errors.ts';

export interface UnverifiedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 16 * 1024;

function decodePart(part: string, which: string): Record<string, unknown> {
  if (!B64URL.test(part)) throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `JWT ${which} is not base64url`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `JWT ${which} is not JSON`, { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `JWT ${which} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Split and parse a compact JWS. Throws GLIDEIN_ERR_TOKEN_MALFORMED; never verifies. */
export function decodeJwtUnverified(token: string): UnverifiedJwt {
  if (typeof token !== 'string' || token.length === 0) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', 'JWT is empty');
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `JWT is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  const parts = token.trim().split('.');
  if (parts.length !== 3) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `JWT has ${parts.length} parts, expected 3`);
  }
  return { header: decodePart(parts[0]!, 'header'), claims: decodePart(parts[1]!, 'payload') };
}

/** The `exp` claim in unix seconds, or null when absent; throws if present but not a number. */
export function jwtExpiry(token: string): number | null {
  const { claims } = decodeJwtUnverified(token);
  const exp = claims['exp'];
  if (exp === undefined) return null;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', 'JWT exp claim is not a number');
  }
  return exp;
}
