// Unsigned compact JWTs for tests that only decode them (expiry bookkeeping, display): the
// signature part is random bytes and means nothing.
import { randomBytes } from 'node:crypto';

const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

export function unsignedJwt(claims: Record<string, unknown>, header: Record<string, unknown>): string {
  return `${part(header)}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
}
