// The refresh service's state behind one interface: the SQLite implementation serves one
// instance; a PostgreSQL implementation (several instances behind one address) implements the
// same methods. Every method is async so a networked store fits without changing callers.
// Refresh tokens appear here only as SHA-256 hashes.

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
  now: number;
}

/** What one refresh attempt came to, decided atomically (and committed) by the store. */
export type SettleOutcome =
  | { kind: 'rotated'; family: FamilyRecord; bound: boolean }
  | { kind: 'replayed_jti' }
  | { kind: 'unknown' }
  | { kind: 'reused'; family: FamilyRecord }
  | { kind: 'revoked'; family: FamilyRecord }
  | { kind: 'expired'; family: FamilyRecord }
  | { kind: 'wrong_key'; family: FamilyRecord };

export interface VoCredentialRecord {
  name: string;
  token: string;
  expiresAt: number;
  updatedAt: number;
}

export interface StateStore {
  /** Create a family with its first token. Throws GLIDEIN_ERR_STATE if the glidein id exists. */
  registerFamily(family: { glideinId: string; entry: string; createdAt: number; expiresAt: number }, tokenHash: string): Promise<void>;
  /** Read-only look-up of a token (to know the family before minting). */
  peekToken(tokenHash: string): Promise<TokenPeek | undefined>;
  /**
   * One transaction: remember the jti (a replay is refused first), then spend the old token and
   * store the new one, binding the family to `jkt` on first use. A spent token revokes the
   * family. Committed before it returns, so the answer sent afterwards is never lost.
   */
  settleRefresh(request: SettleRequest): Promise<SettleOutcome>;
  /** Remember a proof's jti for a request that spends no token (status). False if seen before. */
  recordJti(jti: string, expiresAt: number, now: number): Promise<boolean>;
  getFamily(glideinId: string): Promise<FamilyRecord | undefined>;
  /** Revoke; returns how many live families were revoked. */
  revokeByGlideinId(glideinId: string, reason: string, now: number): Promise<number>;
  revokeByEntry(entry: string, reason: string, now: number): Promise<number>;
  recordStatus(glideinId: string, report: string, now: number): Promise<void>;
  getStatus(glideinId: string): Promise<{ report: string; at: number } | undefined>;
  countActiveFamilies(now: number): Promise<number>;
  putVoCredential(record: VoCredentialRecord): Promise<void>;
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
