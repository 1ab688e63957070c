// Minting failures a refresh answers as refusals, before anything is spent: an IdP that cannot
// issue a token now is 503 temporarily_unavailable with Retry-After (the pilot backs off and
// keeps its current credentials); a family whose entry left the config is invalid_grant.
import { HttpRefusal } from '../http/refusal.ts';
import { IdpUnavailable } from '../entries/client-credentials.ts';
import { EntryNotConfigured } from '../entries/entry-runtime.ts';

export async function mintOrRefuse<T>(mint: () => Promise<T>): Promise<T> {
  try {
    return await mint();
  } catch (e) {
    if (e instanceof IdpUnavailable) throw new HttpRefusal(503, 'temporarily_unavailable', e.message, 'idp_unavailable', e.retryAfter);
    if (e instanceof EntryNotConfigured) throw new HttpRefusal(401, 'invalid_grant', e.message, 'entry_not_configured');
    throw e;
  }
}
