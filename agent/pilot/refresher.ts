// The credential refresher (DESIGN.md section 9, agent side): keeps the C-CRED and S-CRED fresh
// from the factory's refresh service with single-use, DPoP-bound refresh tokens.
//
// * Schedule: at about 7/12 of the shortest remaining lifetime, ±10 % jitter, i.e. inside the
//   1/2–2/3 window (HTCondor credmon refreshes at 1/2; later wastes less, earlier leaves more
//   room for an outage).
// * Failures: exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
//   And Jitter"), 429 Retry-After honoured, valid credentials kept in use meanwhile.
// * One refresh in flight, shared by all callers; a sequence number stops an older answer from
//   overwriting a newer one (STYLE.md example 8).
// * The new refresh token is persisted (atomic, durable) BEFORE the new credentials are used:
//   the old one is spent the moment the service answers, so a crash after this point must still
//   find the only valid token on disk.
import { GlideinError } from '../../shared/errors.ts';
import { createDpopProof, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { parseErrorBody, parseRefreshResponse, REFRESH_PATH, STALE_PROOF_DESCRIPTION, WRONG_KEY_DESCRIPTION, type Bundle } from '../../shared/protocol.ts';
import { isJwtType, type Credential } from '../../shared/credential.ts';
import type { Logger } from '../../shared/log.ts';
import { systemClock, type CancelTimer, type Clock } from './clock.ts';
import { Endpoints } from './endpoints.ts';
import { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from './retry-policy.ts';
import { storeFailureLine, storeFailureOf, type StoreFailure } from './store-failure.ts';

export { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from './retry-policy.ts';
import type { HttpClient, HttpResponse } from './http-client.ts';

/** What the refresher needs from the credential store (agent/store CredStore satisfies it). */
export interface RefresherStore {
  writePilot(name: string, data: string, expiresAt: number | null): unknown;
  writeIdtoken(name: string, jwt: string): unknown;
  /** cred.d/pilot, named when a write fails without saying where. */
  readonly pilotDir?: string;
}

/** File names in the store's pilot/ directory. */
export const PILOT_FILES = { refreshToken: 'refresh-token', dpopKey: 'dpop-key', refreshUrl: 'refresh-url', ca: 'ca' } as const;

/** Fraction of the shortest remaining lifetime after which to refresh, and its jitter. */
export const REFRESH_FRACTION = 7 / 12;
export const REFRESH_JITTER = 0.1;

export interface CredentialSummary {
  type: string;
  purpose: string;
  expiresAt: number | null;
}

export type RefresherEvent =
  | { type: 'refreshed'; seq: number; credentials: CredentialSummary[]; durationMs: number; nextInMs: number | null }
  | { type: 'refresh-failed'; seq: number; error: string; code: string; status: number | undefined; attempt: number; retryInMs: number | null; permanent: boolean }
  | { type: 'ccred-expired'; expiredAt: number }
  /** A refresh was answered but the store could not keep it: refreshing stops (issue 26 item 2). */
  | { type: 'store-failed'; reason: StoreFailure['reason']; dir: string; errno: string };

export type RefreshOutcome =
  | { ok: true; seq: number }
  | { ok: false; seq: number; error: GlideinError; status: number | undefined; permanent: boolean; retryAfterMs: number | undefined; storage?: StoreFailure; refusal?: Refusal };

/**
 * Permanent refusals that are no verdict on the family (issue 26 item 4): 'wrong-key', the
 * family is bound to another pilot's key (this is a copy of a bundle another pilot used);
 * 'not-found', the URL answered 404 (no refresh service there: a wrong refresh_url).
 */
export type Refusal = 'wrong-key' | 'not-found';

export interface RefresherOptions {
  bundle: Bundle;
  key: DpopKey;
  store: RefresherStore;
  http: HttpClient;
  log: Logger;
  clock?: Clock;
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  onEvent?: (event: RefresherEvent) => void;
  /** Name of the C-CRED file in cred.d/idtokens. */
  idtokenName?: string;
  /** The service's instances (default: the bundle's refresh URLs); shared with the status client. */
  endpoints?: Endpoints;
}

function summary(c: Credential): CredentialSummary {
  return { type: c.type, purpose: c.purpose, expiresAt: c.expiresAt };
}

export class Refresher {
  readonly #o: RefresherOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #endpoints: Endpoints;
  #refreshToken: string;
  #credentials = new Map<string, Credential>();
  #inflight: Promise<RefreshOutcome> | undefined;
  #seq = 0;
  #appliedSeq = 0;
  #attempt = 0;
  #running = false;
  #dead = false;
  #cancelNext: CancelTimer | undefined;
  #cancelExpiry: CancelTimer | undefined;
  #ccredExpired = false;
  /** Set by close() (drain): no more requests, and a late answer's refresh token is not persisted. */
  #closed = false;
  /**
   * Set when the store could not keep what the service answered: the successor token lives only
   * in memory, and no refresh is sent until it is written (#saveUnsaved; issue 26 item 2).
   */
  #unsaved: StoreFailure | undefined;
  /** Aborted by close(): a request in flight ends at once, whatever the network does (issue 26 item 3). */
  readonly #abort = new AbortController();
  /** Counters for heartbeats and the summary. */
  readonly stats = { refreshes: 0, failures: 0, lastError: undefined as string | undefined };

  constructor(options: RefresherOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#endpoints = options.endpoints ?? new Endpoints(options.bundle.refreshUrls);
    this.#refreshToken = options.bundle.refreshToken;
    for (const c of options.bundle.credentials) this.#credentials.set(c.purpose, c);
  }

  /**
   * Put the bundle's refresh token and initial credentials into the store. The C-CRED expiry
   * watch is not armed here: a bundle that waited in a queue may hold expired credentials, which
   * is normal (issue 12); start() arms it once the credentials are valid.
   */
  async install(): Promise<void> {
    await this.#o.store.writePilot(PILOT_FILES.refreshToken, this.#refreshToken, this.#o.bundle.expiresAt);
    await this.#writeCredentials([...this.#credentials.values()]);
  }

  /** The refresh endpoint of the instance in use now. */
  get refreshUrl(): string {
    return this.#endpoints.url(REFRESH_PATH);
  }

  /** The credentials in use now (the newest applied). */
  credentials(): Credential[] {
    return [...this.#credentials.values()];
  }

  /** The C-CRED: the IDTOKEN for the VO collector. */
  ccred(): Credential | undefined {
    const c = this.#credentials.get('collector');
    if (c) return c;
    return [...this.#credentials.values()].find((x) => x.type === 'idtoken');
  }

  /** True once the family is known dead (invalid_grant): no refresh can succeed any more. */
  get dead(): boolean {
    return this.#dead;
  }

  get ccredExpired(): boolean {
    return this.#ccredExpired;
  }

  /** Why the store could not keep the last answer, while it cannot. */
  get storeFailure(): StoreFailure | undefined {
    return this.#unsaved;
  }

  /** Start the schedule and the C-CRED expiry watch (once the credentials are valid). */
  start(): void {
    if (this.#closed) return;
    this.#running = true;
    this.#armExpiry();
    this.#scheduleNext(this.#nextDelayMs(this.#lastRefreshAfter));
  }

  /**
   * Stop for good (a drain): no new request, and the one in flight is abandoned at once: a
   * service that accepts and never answers must not hold a drain for the HTTP timeout. Its
   * answer, if the service still sends one, is not read; nothing would refresh with it again.
   */
  close(): void {
    this.#closed = true;
    this.stop();
    this.#abort.abort();
  }

  stop(): void {
    this.#running = false;
    this.#cancelNext?.();
    this.#cancelNext = undefined;
    this.#cancelExpiry?.();
    this.#cancelExpiry = undefined;
  }

  /** Refresh now; concurrent callers share one request. Failures are values, not throws. */
  refresh(): Promise<RefreshOutcome> {
    if (this.#inflight) return this.#inflight;
    const p = this.#doRefresh().finally(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    this.#inflight = p;
    return p;
  }

  /** Milliseconds of validity left on the shortest-lived credential (negative once one expired). */
  usableForMs(): number {
    return this.#shortestRemainingMs();
  }

  /** The wait before the next attempt after a failure (see #backoffMs). */
  backoffMs(retryAfterMs: number | undefined): number {
    return this.#backoffMs(retryAfterMs);
  }

  /** Milliseconds of validity left on the shortest-lived credential (else the bundle's lifetime). */
  #shortestRemainingMs(): number {
    const now = this.#clock.now();
    let shortest = Infinity;
    for (const c of this.#credentials.values()) {
      if (c.expiresAt !== null) shortest = Math.min(shortest, c.expiresAt * 1000 - now);
    }
    return Number.isFinite(shortest) ? shortest : Math.max(0, this.#o.bundle.expiresAt * 1000 - now);
  }

  /** Milliseconds until the next refresh given the current credentials and the service's hint. */
  #nextDelayMs(refreshAfter: number | undefined): number {
    const now = this.#clock.now();
    const shortest = this.#shortestRemainingMs();
    const jitter = 1 + (this.#random() * 2 - 1) * REFRESH_JITTER;
    let delay = Math.max(0, shortest) * REFRESH_FRACTION * jitter;
    // The service may ask us to wait (refresh_after); follow it while it leaves room before expiry.
    if (refreshAfter !== undefined) {
      const hint = refreshAfter * 1000 - now;
      if (hint > delay && hint < shortest * 0.9) delay = hint;
    }
    return Math.max(this.#retry.floorMs, delay);
  }

  #backoffMs(retryAfterMs: number | undefined): number {
    // Exponential with full jitter, but never sleeping through what is left of the credentials:
    // the ceiling shrinks to a quarter of the remaining lifetime, so a service that comes back
    // shortly before expiry is still reached in time (a pure exponential could wait past it).
    // Credentials already expired (a bundle that waited in a queue): the family's own lifetime
    // bounds the wait instead, so a stale pilot keeps trying with a normal backoff, not at the floor.
    const left = this.#shortestRemainingMs();
    const familyLeft = this.#o.bundle.expiresAt * 1000 - this.#clock.now();
    const urgency = Math.max(this.#retry.floorMs, (left > 0 ? left : familyLeft) / 4);
    const ceiling = Math.min(this.#retry.capMs, this.#retry.baseMs * 2 ** Math.min(this.#attempt - 1, 30), urgency);
    const jittered = this.#random() * ceiling;
    return Math.max(this.#retry.floorMs, jittered, retryAfterMs ?? 0);
  }

  #scheduleNext(ms: number): void {
    this.#cancelNext?.();
    if (!this.#running || this.#dead) return;
    this.#cancelNext = this.#clock.setTimer(() => {
      this.#cancelNext = undefined;
      void this.refresh();
    }, ms);
  }

  #armExpiry(): void {
    this.#cancelExpiry?.();
    const c = this.ccred();
    if (!c || c.expiresAt === null) return;
    const ms = c.expiresAt * 1000 - this.#clock.now();
    const fire = () => {
      const cur = this.ccred();
      if (cur && cur.expiresAt !== null && cur.expiresAt * 1000 <= this.#clock.now() && !this.#ccredExpired) {
        this.#ccredExpired = true;
        this.#o.log.error('C-CRED expired: no fresh IDTOKEN could be obtained', { expiredAt: cur.expiresAt });
        this.#o.onEvent?.({ type: 'ccred-expired', expiredAt: cur.expiresAt });
      }
    };
    if (ms <= 0) {
      queueMicrotask(fire);
      return;
    }
    this.#cancelExpiry = this.#clock.setTimer(fire, ms);
  }

  async #writeCredentials(creds: Credential[]): Promise<void> {
    for (const c of creds) {
      if (c.type === 'idtoken') {
        // HTCondor SEC_TOKEN_DIRECTORY layout: one JWT per file (the store adds the newline).
        // HTCondor sends the first token (in name order) of the collector's issuer, so any other
        // IDTOKEN (the CE-CRED, purpose 'ce') is named after the C-CRED and always sorts behind it.
        const ccredName = this.#o.idtokenName ?? 'glidein-collector';
        const name = c.purpose === 'collector' ? ccredName : `${ccredName}-${c.purpose}`;
        await this.#o.store.writeIdtoken(name, c.token);
      } else {
        await this.#o.store.writePilot(`cred-${c.purpose}`, c.token, c.expiresAt);
      }
    }
  }

  async #doRefresh(): Promise<RefreshOutcome> {
    const seq = ++this.#seq;
    const started = this.#clock.now();
    if (this.#dead) {
      return { ok: false, seq, error: new GlideinError('GLIDEIN_ERR_REFRESH', 'refresh family is revoked or expired'), status: undefined, permanent: true, retryAfterMs: undefined };
    }
    if (this.#closed) {
      return { ok: false, seq, error: new GlideinError('GLIDEIN_ERR_REFRESH', 'the refresher is closed (the pilot is draining)'), status: undefined, permanent: true, retryAfterMs: undefined };
    }
    if (this.#unsaved && !(await this.#saveUnsaved())) {
      return { ok: false, seq, error: new GlideinError('GLIDEIN_ERR_STORE_IO', storeFailureLine(this.#unsaved)), status: undefined, permanent: false, retryAfterMs: undefined, storage: this.#unsaved };
    }
    let outcome: RefreshOutcome;
    try {
      outcome = await this.#exchange(seq);
    } catch (e) {
      const error = e instanceof GlideinError ? e : new GlideinError('GLIDEIN_ERR_HTTP', `refresh request failed: ${(e as Error).message ?? String(e)}`, { cause: e });
      outcome = { ok: false, seq, error, status: undefined, permanent: false, retryAfterMs: undefined };
    }
    if (outcome.ok) {
      this.#attempt = 0;
      this.stats.refreshes++;
      const next = this.#running ? this.#nextDelayMs(this.#lastRefreshAfter) : null;
      this.#o.onEvent?.({ type: 'refreshed', seq, credentials: this.credentials().map(summary), durationMs: this.#clock.now() - started, nextInMs: next });
      if (next !== null) this.#scheduleNext(next);
      return outcome;
    }
    this.stats.failures++;
    this.stats.lastError = outcome.error.message;
    // Never answer a storage failure with another rotation: no retry is scheduled.
    if (outcome.storage) return outcome;
    this.#attempt++;
    if (outcome.permanent) this.#dead = true;
    const retryIn = outcome.permanent || !this.#running ? null : this.#backoffMs(outcome.retryAfterMs);
    this.#o.log.warn('credential refresh failed', { code: outcome.error.code, status: outcome.status, attempt: this.#attempt, retryInMs: retryIn, permanent: outcome.permanent, error: outcome.error.message });
    this.#o.onEvent?.({ type: 'refresh-failed', seq, error: outcome.error.message, code: outcome.error.code, status: outcome.status, attempt: this.#attempt, retryInMs: retryIn, permanent: outcome.permanent });
    if (retryIn !== null) this.#scheduleNext(retryIn);
    return outcome;
  }

  #lastRefreshAfter: number | undefined;

  /**
   * One attempt: the instance in use first, then each other instance on a connection error or a
   * 5xx (a 4xx, 429 included, is that service's answer and is not retried elsewhere). The
   * instance that answered is kept for the next request.
   */
  async #exchange(seq: number): Promise<RefreshOutcome> {
    let last: RefreshOutcome | undefined;
    let lastError: unknown;
    const attempts = this.#endpoints.attempts(REFRESH_PATH);
    for (const [i, [index, url]] of attempts.entries()) {
      let res: HttpResponse;
      try {
        const proof = await createDpopProof(this.#o.key, { htm: 'POST', htu: htuOf(url), iat: Math.floor(this.#clock.now() / 1000) });
        res = await this.#o.http.postJson(url, { dpop: proof, accept: 'application/json' }, JSON.stringify({ refresh_token: this.#refreshToken }), { signal: this.#abort.signal });
      } catch (e) {
        lastError = e;
        last = undefined;
        if (this.#closed) break;
        if (this.#endpoints.size > 1) this.#o.log.warn('refresh service instance unreachable; trying the next', { url, error: (e as Error).message });
        continue;
      }
      if (res.status >= 500 && i < attempts.length - 1) {
        last = this.#failure(seq, res);
        lastError = undefined;
        this.#o.log.warn('refresh service instance failed; trying the next', { url, status: res.status });
        continue;
      }
      this.#endpoints.use(index);
      return res.status === 200 ? this.#apply(seq, res.text) : this.#failure(seq, res);
    }
    if (last) return last;
    throw lastError;
  }

  async #apply(seq: number, text: string): Promise<RefreshOutcome> {
    const parsed = parseRefreshResponse(parseJson(text));
    if (seq < this.#appliedSeq) {
      return { ok: false, seq, error: new GlideinError('GLIDEIN_ERR_REFRESH', 'an older refresh answer arrived after a newer one; ignored'), status: 200, permanent: false, retryAfterMs: undefined };
    }
    // The old token is spent now: its successor is the only one, so it is held in memory even
    // when the disk cannot take it. Persist it first, before the credentials are written.
    // Once draining (close()), the token is not kept at all: the drain removed it from disk.
    this.#refreshToken = parsed.refreshToken;
    this.#appliedSeq = seq;
    for (const c of parsed.credentials) this.#credentials.set(c.purpose, c);
    try {
      if (!this.#closed) await this.#o.store.writePilot(PILOT_FILES.refreshToken, parsed.refreshToken, this.#o.bundle.expiresAt);
      await this.#writeCredentials(parsed.credentials);
    } catch (e) {
      return this.#storeFailed(seq, e);
    }
    this.#lastRefreshAfter = parsed.refreshAfter;
    this.#ccredExpired = false;
    if (this.#running) this.#armExpiry();
    return { ok: true, seq };
  }

  /** The store could not keep an answer: error line naming the dir, no more refreshes until it can. */
  #storeFailed(seq: number, e: unknown): RefreshOutcome {
    const failure = storeFailureOf(e, this.#o.store.pilotDir ?? 'the credential store');
    this.#unsaved = failure;
    this.#cancelNext?.();
    this.#cancelNext = undefined;
    const error = new GlideinError('GLIDEIN_ERR_STORE_IO', storeFailureLine(failure), { cause: e });
    this.#o.log.error(error.message, { code: error.code, dir: failure.dir, errno: failure.errno, error: failure.message });
    this.#o.onEvent?.({ type: 'store-failed', reason: failure.reason, dir: failure.dir, errno: failure.errno });
    return { ok: false, seq, error, status: 200, permanent: false, retryAfterMs: undefined, storage: failure };
  }

  /** Write what the store could not keep before; true once it is on disk (refreshing may go on). */
  async #saveUnsaved(): Promise<boolean> {
    try {
      await this.#o.store.writePilot(PILOT_FILES.refreshToken, this.#refreshToken, this.#o.bundle.expiresAt);
      await this.#writeCredentials([...this.#credentials.values()]);
    } catch {
      return false;
    }
    this.#o.log.info('credential store writable again: refreshing resumes', { dir: this.#unsaved?.dir });
    this.#unsaved = undefined;
    return true;
  }

  #failure(seq: number, res: HttpResponse): RefreshOutcome {
    const body = parseErrorBody(parseJson(res.text));
    const name = body?.error ?? `http_${res.status}`;
    const description = body?.error_description ? `: ${body.error_description}` : '';
    const error = new GlideinError('GLIDEIN_ERR_REFRESH', `refresh service answered ${res.status} ${name}${description}`, { details: { status: res.status, error: name } });
    // invalid_grant: the token is unknown, spent, revoked or expired; no retry can help, except
    // when a newer refresh of it was answered (a race between instances): retry, new proof.
    const lostRace = name === 'invalid_grant' && body?.error_description === STALE_PROOF_DESCRIPTION;
    // Bound to another key: no proof this node can make will ever do (the other key stays on its node).
    const refusal: Refusal | undefined = name === 'invalid_dpop_proof' && body?.error_description === WRONG_KEY_DESCRIPTION ? 'wrong-key' : res.status === 404 ? 'not-found' : undefined;
    const permanent = refusal !== undefined || !lostRace && (name === 'invalid_grant' || !this.#retry.retryableStatuses.includes(res.status) && res.status < 500);
    // A stale proof is one of the same second as the answered one (iat has whole seconds): the
    // retry waits for the next second, else its proof is stale again.
    const nextSecondMs = 1000 - (this.#clock.now() % 1000) + 50;
    const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers['retry-after'], this.#clock.now()) : lostRace ? nextSecondMs : undefined;
    return { ok: false, seq, error, status: res.status, permanent, retryAfterMs, ...(refusal ? { refusal } : {}) };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** True for credentials that carry an expiry we track (JWTs and explicit expiries). */
export function tracksExpiry(c: Credential): boolean {
  return c.expiresAt !== null || isJwtType(c.type);
}
