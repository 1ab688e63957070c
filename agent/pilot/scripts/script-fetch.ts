// Fetching one of the entry's scripts from the refresh service (issue 24 section 5): POST
// SCRIPTS_PATH {glidein_id, sha256}, authenticated like a refresh by a DPoP proof from the pilot's
// bound key. The bytes are returned as served; the caller checks them against the declared
// sha256 before anything runs (run-script.ts), so a service or a network that hands out other
// bytes is caught there, not trusted here.
import { createDpopProof, htuOf, type DpopKey } from '../../../shared/dpop.ts';
import { SCRIPTS_PATH, parseErrorBody } from '../../../shared/protocol.ts';
import type { Endpoints } from '../endpoints.ts';
import type { HttpClient } from '../http-client.ts';
import { sleep, type Clock } from '../clock.ts';
import type { FailureCategory } from '../../validate/types.ts';

export interface ScriptFetchOptions {
  glideinId: string;
  endpoints: Endpoints;
  key: DpopKey;
  http: HttpClient;
  clock: Clock;
  signal?: AbortSignal;
}

/** A script's bytes are at most 1 MiB on the service; in base64 JSON that is about 1.4 MiB. */
const MAX_ANSWER_BYTES = 1_500_000;

export type FetchedScript = { ok: true; content: Buffer } | { ok: false; failure: FailureCategory; detail: string };

/** A 429 (the family's request budget: an entry with many scripts) is waited out, this long at most. */
const MAX_RATE_WAIT_MS = 120_000;

/** One script, waiting out the service's rate limit (its Retry-After) within MAX_RATE_WAIT_MS. */
export async function fetchScript(o: ScriptFetchOptions, name: string, sha256: string): Promise<FetchedScript> {
  let waitedMs = 0;
  for (;;) {
    const got = await fetchOnce(o, name, sha256);
    const waitMs = got.retryAfterMs;
    if (waitMs === undefined || waitedMs + waitMs > MAX_RATE_WAIT_MS || o.signal?.aborted) return got;
    await sleep(o.clock, waitMs, o.signal);
    waitedMs += waitMs;
  }
}

async function fetchOnce(o: ScriptFetchOptions, name: string, sha256: string): Promise<FetchedScript & { retryAfterMs?: number }> {
  const url = o.endpoints.url(SCRIPTS_PATH);
  let res;
  try {
    const proof = await createDpopProof(o.key, { htm: 'POST', htu: htuOf(url), iat: Math.floor(o.clock.now() / 1000) });
    res = await o.http.postJson(url, { dpop: proof }, JSON.stringify({ glidein_id: o.glideinId, sha256 }), { maxBodyBytes: MAX_ANSWER_BYTES, ...(o.signal ? { signal: o.signal } : {}) });
  } catch (e) {
    return { ok: false, failure: 'Network', detail: `${name}: could not fetch it from ${url}: ${(e as Error).message}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    body = undefined;
  }
  if (res.status !== 200) {
    const err = parseErrorBody(body);
    const why = err ? `${err.error}${err.error_description ? `: ${err.error_description}` : ''}` : `HTTP ${res.status}`;
    const retryAfterS = Number(res.headers['retry-after']);
    if (res.status === 429) {
      const retryAfterMs = Number.isFinite(retryAfterS) && retryAfterS >= 0 ? Math.max(1, retryAfterS) * 1000 : 2000;
      return { ok: false, failure: 'Network', detail: `${name}: the refresh service refused it (429 ${why})`, retryAfterMs };
    }
    // 404: the service does not hold the script this bundle names (the entry changed): a
    // configuration problem; anything else may pass.
    return { ok: false, failure: res.status === 404 ? 'Config' : 'Network', detail: `${name}: the refresh service refused it (${res.status} ${why})` };
  }
  const content = (body as { content?: unknown } | undefined)?.content;
  if (typeof content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(content)) {
    return { ok: false, failure: 'Config', detail: `${name}: the refresh service's answer has no base64 "content"` };
  }
  return { ok: true, content: Buffer.from(content, 'base64') };
}
