// The refresh service's state behind one interface: the SQLite implementation serves one
// instance; a PostgreSQL implementation (several instances behind one address) implements the
// same methods. Every method is async so a networked store fits without changing callers.
// Refresh tokens appear here only as SHA-256 hashes.

/** The round-robin counter the write probe advances: a name no entry parameter can have (a space). */
export const WRITE_PROBE_NAME = ' readyz write probe';

export interface FamilyRecord {
  glideinId: string;
  entry: string;
  /** Unix seconds. */
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokeReason: string | null;
  /** RFC 7638 thumbprint of the DPoP key the family is bound to (null until the first refresh). */
  jkt: string | null;
}

export interface TokenPeek {
  family: FamilyRecord;
  spent: boolean;
  /** Unix seconds the token was spent (rotated, or superseded by a re-grant); null while unspent. */
  spentAt: number | null;
}

export interface SettleRequest {
  oldHash: string;
  /** The next token's hash, or null when the caller already knows it will not rotate. */
  newHash: string | null;
  /** Thumbprint of the key that signed the proof. */
  jkt: string;
  /** The proof's jti (hashed by the store) and how long it must be remembered. */
  jti: string;
  jtiExpiresAt: number;
  /** The proof's iat (default: now): a successor remembers the iat of the proof it was made for. */
  proofIat?: number;
  now: number;
  /**
   * rotationGraceSeconds: a token spent at most this long ago, presented with a proof from the
   * family's bound key while the successor it was exchanged for is still unspent, is re-granted
   * (see SettleOutcome 'regranted'). 0 turns re-granting off.
   */
  graceSeconds: number;
}

/**
 * What one refresh attempt came to, decided atomically (and committed) by the store, in this
 * order: a jti seen before → 'replayed_jti' (nothing else happens; otherwise the jti is now
 * remembered); token not found → 'unknown'; family revoked → 'revoked'; past its lifetime →
 * 'expired'; family bound to another key than `jkt` → 'first_token_reuse' when the token is the
 * family's first one (the one `register` made: whoever read the bundle first bound the family,
 * so the family is revoked, reason FIRST_TOKEN_REUSE_REASON), else 'wrong_key' (spent or not:
 * nothing is spent or revoked); token unspent → 'rotated' (spent, `newHash` stored, family bound to `jkt`
 * if it was not); token spent (bound key) within `graceSeconds` of its spending and its
 * successor still unspent → 'regranted', unless the successor was made for a proof at least as
 * new as this one (`proofIat` not above its creating iat; issue 26 item 7: a slow request must
 * never undo a newer answer) → 'stale_proof', nothing spent or revoked, also when the successor
 * was used since; (the successor is marked spent in the same transaction
 * and `newHash` becomes the token's successor: one live token per family at any time; the
 * window runs from the first spending, a re-grant does not extend it; a superseded successor
 * has no successor of its own, so presenting it later is reuse); any other spent token → the
 * family is revoked, 'reused'. With `newHash` null, the cases that
 * would store it answer 'unknown' and change nothing but the jti.
 */
export type SettleOutcome =
  | { kind: 'rotated'; family: FamilyRecord; bound: boolean }
  | { kind: 'regranted'; family: FamilyRecord }
  | { kind: 'replayed_jti' }
  | { kind: 'unknown' }
  | { kind: 'reused'; family: FamilyRecord }
  | { kind: 'revoked'; family: FamilyRecord }
  | { kind: 'expired'; family: FamilyRecord }
  | { kind: 'wrong_key'; family: FamilyRecord }
  | { kind: 'first_token_reuse'; family: FamilyRecord }
  | { kind: 'stale_proof'; family: FamilyRecord };

/** The revoke reason of a family whose first token came from two keys (issue 21 item 4). */
export const FIRST_TOKEN_REUSE_REASON = 'first token used by two keys';

export interface VoCredentialRecord {
  name: string;
  token: string;
  expiresAt: number;
  updatedAt: number;
}

/** One pilot as the operator views list it (refresh-service/operator). */
export interface PilotRecord extends FamilyRecord {
  /** Unix seconds of the first refresh (binding), null while unbound. */
  boundAt: number | null;
  /** Unix seconds the newest token was issued after binding (the last refresh), null while unbound. */
  lastRefreshAt: number | null;
  /** The last status report (JSON text) and when it arrived. */
  statusReport: string | null;
  statusAt: number | null;
  /** The validation summary kept from the report that carried one (JSON text), and when. */
  validation: string | null;
  validatedAt: number | null;
}

/** Refreshes answered per entry and hour (hour: unix seconds, a multiple of 3600). */
export interface RefreshCount {
  entry: string;
  hour: number;
  ok: number;
  failed: number;
}

export interface StateStore {
  /** Create a family with its first token. Throws GLIDEIN_ERR_STATE if the glidein id exists. */
  registerFamily(family: { glideinId: string; entry: string; createdAt: number; expiresAt: number }, tokenHash: string): Promise<void>;
  /** Read-only look-up of a token (to know the family before minting). */
  peekToken(tokenHash: string): Promise<TokenPeek | undefined>;
  /**
   * One transaction deciding a refresh as SettleOutcome describes: remember the jti, then spend
   * the old token and store the new one (binding the family on first use), re-grant within the
   * grace window, or revoke on reuse. Committed before it returns, so the answer sent afterwards
   * is never lost. A token's successor must be recorded with it (the hash stored for newHash).
   */
  settleRefresh(request: SettleRequest): Promise<SettleOutcome>;
  /** Remember a proof's jti for a request that spends no token (status). False if seen before. */
  recordJti(jti: string, expiresAt: number, now: number): Promise<boolean>;
  getFamily(glideinId: string): Promise<FamilyRecord | undefined>;
  /** Revoke; returns how many live families were revoked. */
  revokeByGlideinId(glideinId: string, reason: string, now: number): Promise<number>;
  revokeByEntry(entry: string, reason: string, now: number): Promise<number>;
  /**
   * heartbeatTimeout: revoke every live (not revoked, not expired at `now`) family that is bound
   * to a key and whose last status report, or binding if it has sent none, is older than
   * `silentSince` (unix seconds). Returns the families revoked. A family is bound (and its bind
   * time recorded) by its first rotation; recordStatus sets the report time.
   */
  revokeSilentFamilies(silentSince: number, reason: string, now: number): Promise<{ glideinId: string; entry: string }[]>;
  recordStatus(glideinId: string, report: string, now: number): Promise<void>;
  getStatus(glideinId: string): Promise<{ report: string; at: number } | undefined>;
  /** Live families (not revoked, not expired). Called once a minute for /metrics, not per scrape. */
  countActiveFamilies(now: number): Promise<number>;
  /** Live families per entry (entries without one are absent). Called once a minute for /metrics. */
  countActiveByEntry(now: number): Promise<Record<string, number>>;
  /**
   * Keep a validation summary (JSON text) apart from the status report: later heartbeats
   * replace the report but not the node's verdict.
   */
  recordValidation(glideinId: string, summary: string, now: number): Promise<void>;
  /** Every pilot (family) kept, or those of one entry or one glidein id, ordered by glidein id. */
  listPilots(filter: { entry?: string; glideinId?: string }): Promise<PilotRecord[]>;
  /**
   * When a pilot's refreshes were answered (its tokens issued after registration, as long as
   * they are kept: a day after spending), newest first, at most `limit`.
   */
  refreshTimes(glideinId: string, limit: number): Promise<number[]>;
  /** Add refresh counts (summed into existing rows) and drop rows of hours before `keepSince`. */
  addRefreshCounts(counts: RefreshCount[], keepSince: number): Promise<void>;
  /** Refresh counts of hours at or after `since`, ordered by entry and hour. */
  refreshCounts(since: number): Promise<RefreshCount[]>;
  putVoCredential(record: VoCredentialRecord): Promise<void>;
  /**
   * Round-robin entry parameters (issue 15): the counter under `name` (0 the first time), advanced
   * by one in the same atomic statement, so registrations by any process or instance, before or
   * after a restart, each get the next item.
   */
  nextRoundRobin(name: string): Promise<number>;
  /**
   * Prove that the store can commit a write now (GET /readyz, issue 26 item 4): one committed
   * write, of about `bytes` (default: tiny), to a row no feature reads. Rejects with the store's
   * error when it cannot (a full disk, a read-only file or database).
   */
  probeWrite(bytes?: number): Promise<void>;
  /** The latest VO credential under `name` if it is still valid at `now`. */
  getVoCredential(name: string, now: number): Promise<VoCredentialRecord | undefined>;
  /**
   * Drop expired jtis, families (with their tokens) expired more than `graceSeconds` ago, and
   * tokens spent more than `graceSeconds` ago (state stays bounded per pilot however often it
   * refreshes; reuse of a token spent longer ago than that is refused as unknown, not detected).
   */
  prune(now: number, graceSeconds: number): Promise<void>;
  close(): Promise<void>;
}
