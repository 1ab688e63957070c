// Opaque refresh tokens: 256 random bits, base64url; the service stores only their SHA-256.
import { createHash } from 'node:crypto';
import { randomString } from './random-pool.ts';

/** Accepted shape of a presented token (same as shared/protocol.ts checks on the agent side). */
export const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43,512}$/;

export function newRefreshToken(): string {
  return randomString(32, 'base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
