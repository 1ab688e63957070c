// Valid credentials before anything else (issue 12 item 1). A bundle whose C-CRED or S-CRED
// expired (or is about to) while the pilot waited in the queue is normal: refresh first, with
// the refresher's usual backoff, for as long as the refresh family itself lives (the bundle's
// expires_at). Only a refresh that cannot succeed (invalid_grant: the family is expired, revoked
// or its token was reused) or the family's end stops the pilot, with a clear message.
import type { Logger } from '../../shared/log.ts';
import { sleep, type Clock } from './clock.ts';
import type { Refresher } from './refresher.ts';

/** The refresh service's words for a family revoked because its first token came from two keys. */
const FIRST_TOKEN_TWO_KEYS = 'first token used by two keys';

/** Bundle credentials with less validity than this are refreshed before the pilot goes on. */
export const DEFAULT_MIN_USABLE_S = 30;

export type CredentialsReady =
  | { ok: true; refreshed: boolean }
  | { ok: false; why: 'family-dead' | 'family-expired' | 'aborted' | 'store-failed' | 'bundle-of-another-pilot' | 'refresh-url-not-found'; message: string };

export interface ReadyOptions {
  refresher: Refresher;
  clock: Clock;
  log: Logger;
  /** The refresh family's end (the bundle's expires_at, unix seconds). */
  familyExpiresAt: number;
  minUsableS: number;
  /** Aborted by a drain signal. */
  signal: AbortSignal;
}

/**
 * The first refresh (it binds the family to this node's key), repeated with backoff while the
 * credentials in hand are not usable. Credentials still usable after a failed first refresh are
 * kept: the refresher's schedule retries.
 */
export async function awaitUsableCredentials(o: ReadyOptions): Promise<CredentialsReady> {
  const atStartMs = o.refresher.usableForMs();
  if (atStartMs < o.minUsableS * 1000) o.log.info(staleMessage(atStartMs), { validForS: Math.floor(atStartMs / 1000) });
  for (;;) {
    if (o.signal.aborted) return { ok: false, why: 'aborted', message: 'a drain signal arrived before the credentials were valid' };
    const out = await o.refresher.refresh();
    if (out.ok) return { ok: true, refreshed: true };
    // A drain abandons the request in flight (issue 26 item 3): that failure is the drain's.
    if (o.signal.aborted) return { ok: false, why: 'aborted', message: 'a drain signal arrived before the credentials were valid' };
    // The store could not keep the answer (a full disk): another refresh would only spend the
    // token held in memory (issue 26 item 2).
    if (out.storage) return { ok: false, why: 'store-failed', message: out.error.message };
    if (out.refusal === 'wrong-key') {
      return { ok: false, why: 'bundle-of-another-pilot', message: `this bundle belongs to another pilot (${out.error.message}): its refresh family is bound to the DPoP key of the pilot that used it first, so no refresh from this node can ever succeed. A bundle starts one pilot: this copy was used before (a bundle in a read-only staging dir keeps its token; or the same --bundle was given twice). Submit a new pilot with a new bundle` };
    }
    if (out.refusal === 'not-found') {
      return { ok: false, why: 'refresh-url-not-found', message: `the bundle's refresh URL is wrong: ${o.refresher.refreshUrl} answered 404 Not Found (${out.error.message}), so there is no refresh service endpoint at that address; check refresh_url in the bundle (the service's publicUrl, any proxy path in front of it). Nothing was refused: the family may be fine` };
    }
    if (out.permanent && out.error.message.includes(FIRST_TOKEN_TWO_KEYS)) {
      return { ok: false, why: 'family-dead', message: `this bundle was used by two pilots (${out.error.message}): another process read it before this pilot and refreshed with its own key, so the refresh service revoked the family; the other party's credentials end at their expiry. Submit a new pilot with a new bundle, and check who can read the bundle where it waited (the CE's staging area)` };
    }
    if (out.permanent) {
      return { ok: false, why: 'family-dead', message: `the refresh service refused this pilot's refresh token for good (${out.error.message}): its family is expired, revoked or was reused, so no valid credentials can be obtained; submit a new pilot with a new bundle` };
    }
    const usableMs = o.refresher.usableForMs();
    if (usableMs >= o.minUsableS * 1000) {
      o.log.warn('first refresh failed; continuing with the bundle credentials while they are valid', { error: out.error.message, validForS: Math.floor(usableMs / 1000) });
      return { ok: true, refreshed: false };
    }
    const familyLeftMs = o.familyExpiresAt * 1000 - o.clock.now();
    if (familyLeftMs <= 0) {
      return { ok: false, why: 'family-expired', message: `the refresh family ended at ${new Date(o.familyExpiresAt * 1000).toISOString()} before any refresh succeeded (last error: ${out.error.message})` };
    }
    const waitMs = Math.min(o.refresher.backoffMs(out.retryAfterMs), familyLeftMs);
    o.log.info(`${staleMessage(usableMs)}; retrying`, { validForS: Math.floor(usableMs / 1000), retryInMs: Math.round(waitMs), error: out.error.message });
    await sleep(o.clock, waitMs, o.signal);
  }
}

function staleMessage(usableMs: number): string {
  return usableMs <= 0
    ? 'the bundle credentials have expired (the pilot waited in a queue): refreshing before anything else'
    : 'the bundle credentials are too short-lived: refreshing before anything else';
}
