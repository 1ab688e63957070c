// Console sessions: the admin token is exchanged once (POST /console/login) for a random session
// id in an HttpOnly, SameSite=Strict cookie (Secure over TLS), held in memory only (a restart
// logs everyone out). Each session has its own CSRF token, put in every form and checked on
// every POST. Bounded: at most MAX_SESSIONS, the oldest dropped first; each lives TTL_S.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE = 'glidein_console';
const TTL_S = 8 * 3600;
const MAX_SESSIONS = 64;

export interface Session {
  id: string;
  csrf: string;
  expiresAt: number;
}

export class ConsoleSessions {
  readonly #sessions = new Map<string, Session>();

  create(now: number): Session {
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), expiresAt: now + TTL_S };
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The live session named by the request's cookie, if any. */
  find(req: IncomingMessage, now: number): Session | undefined {
    const id = cookieValue(req.headers.cookie, COOKIE);
    const s = id === undefined ? undefined : this.#sessions.get(id);
    if (s && s.expiresAt <= now) {
      this.#sessions.delete(s.id);
      return undefined;
    }
    return s;
  }

  end(id: string): void {
    this.#sessions.delete(id);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === name && v !== undefined && /^[A-Za-z0-9_-]{43}$/.test(v)) return v;
  }
  return undefined;
}

/** The Set-Cookie header of a session (max-age 0 ends it). */
export function sessionCookie(id: string, secure: boolean, maxAge = TTL_S): string {
  return `${COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function csrfMatches(s: Session, given: string | undefined): boolean {
  const a = Buffer.from(s.csrf);
  const b = Buffer.from(given ?? '');
  return a.length === b.length && timingSafeEqual(a, b);
}
