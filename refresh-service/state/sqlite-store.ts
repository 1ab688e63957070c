// StateStore on node:sqlite: one file `<state>/state.db` in WAL mode. WAL lets `register` and
// `revoke` (other processes) write while `serve` runs; busy_timeout makes them wait their turn.
// synchronous=FULL by default: every commit is fsynced, so neither kill -9 nor power loss
// loses a rotation a glidein was told about (NORMAL with WAL survives kill -9 but not power loss).
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';
import { makeDbFilesPrivate, sealPlainVoTokens } from './sqlite-private.ts';
import { isSealed, openVoToken, sealVoToken } from './vo-seal.ts';
import { FIRST_TOKEN_REUSE_REASON } from './store.ts';
import type { FamilyRecord, PilotRecord, RefreshCount, SettleOutcome, SettleRequest, StateStore, TokenPeek, VoCredentialRecord } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS families (
  glidein_id TEXT PRIMARY KEY,
  entry TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoke_reason TEXT,
  jkt TEXT,
  status_report TEXT,
  status_at INTEGER,
  bound_at INTEGER,
  first_token TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS families_entry ON families(entry);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY,
  glidein_id TEXT NOT NULL REFERENCES families(glidein_id) ON DELETE CASCADE,
  issued_at INTEGER NOT NULL,
  spent_at INTEGER,
  successor TEXT,
  created_iat REAL
) STRICT;
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(glidein_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_spent ON refresh_tokens(spent_at) WHERE spent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS dpop_jti (
  jti_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS dpop_jti_expiry ON dpop_jti(expires_at);
CREATE TABLE IF NOT EXISTS vo_credentials (
  name TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS refresh_counts (
  entry TEXT NOT NULL,
  hour INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  PRIMARY KEY (entry, hour)
) STRICT;
CREATE TABLE IF NOT EXISTS round_robin (
  name TEXT PRIMARY KEY,
  next INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS write_probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at INTEGER NOT NULL,
  pad BLOB NOT NULL
) STRICT;
`;

/** Columns added after the first release: added to an older state.db when it is opened. */
const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
  ['families', 'bound_at', 'INTEGER'],
  ['refresh_tokens', 'successor', 'TEXT'],
  ['families', 'validation', 'TEXT'],
  ['families', 'validated_at', 'INTEGER'],
  ['families', 'first_token', 'TEXT'],
  ['refresh_tokens', 'created_iat', 'REAL'],
];

interface FamilyRow {
  glidein_id: string;
  entry: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
  jkt: string | null;
}

/** The columns listPilots reads beside the family's. */
interface PilotColumns {
  bound_at: number | null;
  last_refresh_at: number | null;
  status_report: string | null;
  status_at: number | null;
  validation: string | null;
  validated_at: number | null;
}

/** A token joined with its family. */
type TokenRow = FamilyRow & { spent_at: number | null; successor: string | null; first_token: string | null };

function toFamily(r: FamilyRow): FamilyRecord {
  return { glideinId: r.glidein_id, entry: r.entry, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, revokeReason: r.revoke_reason, jkt: r.jkt };
}

function hashJti(jti: string): string {
  return createHash('sha256').update(jti).digest('base64url');
}

export interface SqliteStoreOptions {
  synchronous?: 'full' | 'normal';
  busyTimeoutMs?: number;
  /** Seals pushed VO tokens (vo-seal.ts): the POOL-derived key; without it they can be neither stored nor read. */
  sealKey?: Buffer;
}

export class SqliteStateStore implements StateStore {
  readonly path: string;
  #db: DatabaseSync;
  #s: Record<string, StatementSync>;
  readonly #sealKey: Buffer | undefined;
  #pending: { r: SettleRequest; resolve: (o: SettleOutcome) => void; reject: (e: unknown) => void }[] = [];

  constructor(stateDir: string, options: SqliteStoreOptions = {}) {
    this.path = join(stateDir, 'state.db');
    this.#sealKey = options.sealKey;
    makeDbFilesPrivate(this.path);
    try {
      this.#db = new DatabaseSync(this.path, { timeout: options.busyTimeoutMs ?? 10_000 });
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA secure_delete = ON');
      this.#db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.#db.exec('PRAGMA foreign_keys = ON');
      this.#db.exec(SCHEMA);
      this.#addMissingColumns();
      if (this.#sealKey !== undefined) sealPlainVoTokens(this.#db, this.#sealKey);
    } catch (cause) {
      throw new GlideinError('GLIDEIN_ERR_STATE', `state database ${this.path} cannot be opened: ${(cause as Error).message}`, { cause });
    }
    const p = (sql: string) => this.#db.prepare(sql);
    this.#s = {
      insertFamily: p('INSERT INTO families (glidein_id, entry, created_at, expires_at, first_token) VALUES (?, ?, ?, ?, ?)'),
      insertToken: p('INSERT INTO refresh_tokens (hash, glidein_id, issued_at, created_iat) VALUES (?, ?, ?, ?)'),
      createdIat: p('SELECT created_iat FROM refresh_tokens WHERE hash = ?'),
      // Twice a refresh (the peek, then inside the commit): only the columns the decision reads,
      // not the family's status and validation reports (JSON of up to several KiB each).
      peek: p(`SELECT f.glidein_id, f.entry, f.created_at, f.expires_at, f.revoked_at, f.revoke_reason, f.jkt, f.first_token, t.spent_at AS spent_at, t.successor AS successor
        FROM refresh_tokens t JOIN families f ON f.glidein_id = t.glidein_id WHERE t.hash = ?`),
      insertJti: p('INSERT OR IGNORE INTO dpop_jti (jti_hash, expires_at) VALUES (?, ?)'),
      spend: p('UPDATE refresh_tokens SET spent_at = ?, successor = ? WHERE hash = ? AND spent_at IS NULL'),
      setSuccessor: p('UPDATE refresh_tokens SET successor = ? WHERE hash = ?'),
      bind: p('UPDATE families SET jkt = ?, bound_at = ? WHERE glidein_id = ? AND jkt IS NULL'),
      revokeSilent: p('UPDATE families SET revoked_at = ?, revoke_reason = ? WHERE revoked_at IS NULL AND expires_at > ? AND jkt IS NOT NULL AND coalesce(status_at, bound_at, created_at) < ? RETURNING glidein_id, entry'),
      revokeId: p('UPDATE families SET revoked_at = ?, revoke_reason = ? WHERE glidein_id = ? AND revoked_at IS NULL'),
      revokeEntry: p('UPDATE families SET revoked_at = ?, revoke_reason = ? WHERE entry = ? AND revoked_at IS NULL'),
      getFamily: p('SELECT * FROM families WHERE glidein_id = ?'),
      status: p('UPDATE families SET status_report = ?, status_at = ? WHERE glidein_id = ?'),
      getStatus: p('SELECT status_report, status_at FROM families WHERE glidein_id = ?'),
      active: p('SELECT count(*) AS n FROM families WHERE revoked_at IS NULL AND expires_at > ?'),
      activeByEntry: p('SELECT entry, count(*) AS n FROM families WHERE revoked_at IS NULL AND expires_at > ? GROUP BY entry'),
      validation: p('UPDATE families SET validation = ?, validated_at = ? WHERE glidein_id = ?'),
      pilots: p(`SELECT f.*, CASE WHEN f.bound_at IS NULL THEN NULL ELSE (SELECT max(t.issued_at) FROM refresh_tokens t WHERE t.glidein_id = f.glidein_id) END AS last_refresh_at
        FROM families f WHERE (?1 IS NULL OR f.entry = ?1) AND (?2 IS NULL OR f.glidein_id = ?2) ORDER BY f.glidein_id`),
      addCount: p('INSERT INTO refresh_counts (entry, hour, ok, failed) VALUES (?, ?, ?, ?) ON CONFLICT(entry, hour) DO UPDATE SET ok = ok + excluded.ok, failed = failed + excluded.failed'),
      refreshTimes: p(`SELECT t.issued_at AS at FROM refresh_tokens t JOIN families f ON f.glidein_id = t.glidein_id WHERE t.glidein_id = ?1
        AND (t.issued_at > f.created_at OR EXISTS (SELECT 1 FROM refresh_tokens p WHERE p.glidein_id = ?1 AND p.successor = t.hash)) ORDER BY t.issued_at DESC LIMIT ?2`),
      pruneCounts: p('DELETE FROM refresh_counts WHERE hour < ?'),
      counts: p('SELECT entry, hour, ok, failed FROM refresh_counts WHERE hour >= ? ORDER BY entry, hour'),
      putVo: p('INSERT INTO vo_credentials (name, token, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at, updated_at = excluded.updated_at'),
      getVo: p('SELECT * FROM vo_credentials WHERE name = ? AND expires_at > ?'),
      writeProbe: p('INSERT INTO write_probe (id, at, pad) VALUES (1, ?, zeroblob(?)) ON CONFLICT(id) DO UPDATE SET at = excluded.at, pad = excluded.pad'),
      roundRobin: p('INSERT INTO round_robin (name, next) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET next = next + 1 RETURNING next - 1 AS n'),
      pruneJti: p('DELETE FROM dpop_jti WHERE expires_at < ?'),
      pruneFamilies: p('DELETE FROM families WHERE expires_at < ?'),
      pruneSpent: p('DELETE FROM refresh_tokens WHERE spent_at IS NOT NULL AND spent_at < ?'),
    };
  }

  #tx<T>(fn: () => T): T {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (cause) {
      throw new GlideinError('GLIDEIN_ERR_STATE', `state database ${this.path}: cannot start a transaction: ${(cause as Error).message}`, { cause });
    }
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        /* the transaction is already gone */
      }
      if (e instanceof GlideinError) throw e;
      throw new GlideinError('GLIDEIN_ERR_STATE', `state database ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  async registerFamily(f: { glideinId: string; entry: string; createdAt: number; expiresAt: number }, tokenHash: string): Promise<void> {
    this.#tx(() => {
      if (this.#s['getFamily']!.get(f.glideinId)) {
        throw new GlideinError('GLIDEIN_ERR_STATE', `glidein id '${f.glideinId}' is already registered; glidein ids are never reused`);
      }
      this.#s['insertFamily']!.run(f.glideinId, f.entry, f.createdAt, f.expiresAt, tokenHash);
      this.#s['insertToken']!.run(tokenHash, f.glideinId, f.createdAt, null);
    });
  }

  async peekToken(tokenHash: string): Promise<TokenPeek | undefined> {
    const row = this.#s['peek']!.get(tokenHash) as TokenRow | undefined;
    return row ? { family: toFamily(row), spent: row.spent_at !== null, spentAt: row.spent_at } : undefined;
  }

  /**
   * Group commit: refreshes settled in the same event-loop turn share one transaction and so
   * one fsync. Each is decided in arrival order inside it, exactly as if committed one by one,
   * and no caller hears its outcome before the shared COMMIT.
   */
  settleRefresh(r: SettleRequest): Promise<SettleOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ r, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      const outcomes = this.#tx(() => batch.map((b) => this.#settleOne(b.r)));
      batch.forEach((b, i) => b.resolve(outcomes[i]!));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }

  #settleOne(r: SettleRequest): SettleOutcome {
    const fresh = this.#s['insertJti']!.run(hashJti(r.jti), r.jtiExpiresAt).changes === 1;
    if (!fresh) return { kind: 'replayed_jti' };
    const row = this.#s['peek']!.get(r.oldHash) as TokenRow | undefined;
    if (!row) return { kind: 'unknown' };
    const family = toFamily(row);
    if (family.revokedAt !== null) return { kind: 'revoked', family };
    if (family.expiresAt <= r.now) return { kind: 'expired', family };
    // Before anything about spending: a proof from another key changes nothing, even for a
    // spent token (else anyone holding an old bundle could revoke the pilot; issue 11 item 11).
    if (family.jkt !== null && family.jkt !== r.jkt) {
      if (row.first_token !== r.oldHash) return { kind: 'wrong_key', family };
      // The family's first token from a second key: two parties read the bundle (issue 21 item 4).
      this.#s['revokeId']!.run(r.now, FIRST_TOKEN_REUSE_REASON, family.glideinId);
      return { kind: 'first_token_reuse', family: { ...family, revokedAt: r.now, revokeReason: FIRST_TOKEN_REUSE_REASON } };
    }
    if (row.spent_at === null) return this.#rotate(r, family);
    if (this.#newerAnswered(r, row.successor)) return { kind: 'stale_proof', family };
    if (r.graceSeconds > 0 && row.spent_at >= r.now - r.graceSeconds && row.successor !== null) {
      // A lost answer: the bound key asks again while its successor is unused. Supersede the
      // successor and issue another, in this transaction: never two live tokens at once.
      if (r.newHash === null) return { kind: 'unknown' };
      if (this.#s['spend']!.run(r.now, null, row.successor).changes === 1) {
        this.#s['insertToken']!.run(r.newHash, family.glideinId, r.now, r.proofIat ?? r.now);
        this.#s['setSuccessor']!.run(r.newHash, r.oldHash);
        return { kind: 'regranted', family };
      }
    }
    // RFC 9700 section 4.14.2: reuse of a rotated token means a copy exists; kill the family.
    this.#s['revokeId']!.run(r.now, 'refresh token reuse', family.glideinId);
    return { kind: 'reused', family: { ...family, revokedAt: r.now, revokeReason: 'refresh token reuse' } };
  }

  /** The spent token's successor was made for a proof at least as new as this request's. */
  #newerAnswered(r: SettleRequest, successor: string | null): boolean {
    if (successor === null) return false;
    const made = (this.#s['createdIat']!.get(successor) as { created_iat: number | null } | undefined)?.created_iat ?? null;
    return made !== null && (r.proofIat ?? r.now) <= made;
  }

  #rotate(r: SettleRequest, family: FamilyRecord): SettleOutcome {
    if (r.newHash === null) return { kind: 'unknown' };
    if (this.#s['spend']!.run(r.now, r.newHash, r.oldHash).changes !== 1) return { kind: 'unknown' };
    this.#s['insertToken']!.run(r.newHash, family.glideinId, r.now, r.proofIat ?? r.now);
    const bound = family.jkt === null;
    if (bound) this.#s['bind']!.run(r.jkt, r.now, family.glideinId);
    return { kind: 'rotated', family: { ...family, jkt: r.jkt }, bound };
  }

  async recordJti(jti: string, expiresAt: number, _now: number): Promise<boolean> {
    return this.#s['insertJti']!.run(hashJti(jti), expiresAt).changes === 1;
  }

  async getFamily(glideinId: string): Promise<FamilyRecord | undefined> {
    const row = this.#s['getFamily']!.get(glideinId) as FamilyRow | undefined;
    return row ? toFamily(row) : undefined;
  }

  async revokeByGlideinId(glideinId: string, reason: string, now: number): Promise<number> {
    return this.#tx(() => Number(this.#s['revokeId']!.run(now, reason, glideinId).changes));
  }

  async revokeByEntry(entry: string, reason: string, now: number): Promise<number> {
    return this.#tx(() => Number(this.#s['revokeEntry']!.run(now, reason, entry).changes));
  }

  async revokeSilentFamilies(silentSince: number, reason: string, now: number): Promise<{ glideinId: string; entry: string }[]> {
    const rows = this.#tx(() => this.#s['revokeSilent']!.all(now, reason, now, silentSince) as { glidein_id: string; entry: string }[]);
    return rows.map((r) => ({ glideinId: r.glidein_id, entry: r.entry }));
  }

  async recordStatus(glideinId: string, report: string, now: number): Promise<void> {
    this.#s['status']!.run(report, now, glideinId);
  }

  async getStatus(glideinId: string): Promise<{ report: string; at: number } | undefined> {
    const row = this.#s['getStatus']!.get(glideinId) as { status_report: string | null; status_at: number | null } | undefined;
    return row && row.status_report !== null ? { report: row.status_report, at: row.status_at ?? 0 } : undefined;
  }

  async countActiveFamilies(now: number): Promise<number> {
    return Number((this.#s['active']!.get(now) as { n: number }).n);
  }

  async recordValidation(glideinId: string, summary: string, now: number): Promise<void> {
    this.#s['validation']!.run(summary, now, glideinId);
  }

  async listPilots(filter: { entry?: string; glideinId?: string }): Promise<PilotRecord[]> {
    const rows = this.#s['pilots']!.all(filter.entry ?? null, filter.glideinId ?? null) as unknown as (FamilyRow & PilotColumns)[];
    return rows.map((r) => ({ ...toFamily(r), boundAt: r.bound_at, lastRefreshAt: r.last_refresh_at, statusReport: r.status_report, statusAt: r.status_at, validation: r.validation, validatedAt: r.validated_at }));
  }

  async refreshTimes(glideinId: string, limit: number): Promise<number[]> {
    return (this.#s['refreshTimes']!.all(glideinId, limit) as { at: number }[]).map((r) => Number(r.at));
  }

  async addRefreshCounts(counts: RefreshCount[], keepSince: number): Promise<void> {
    this.#tx(() => {
      for (const c of counts) this.#s['addCount']!.run(c.entry, c.hour, c.ok, c.failed);
      this.#s['pruneCounts']!.run(keepSince);
    });
  }

  async refreshCounts(since: number): Promise<RefreshCount[]> {
    return (this.#s['counts']!.all(since) as unknown as RefreshCount[]).map((c) => ({ entry: c.entry, hour: c.hour, ok: c.ok, failed: c.failed }));
  }

  async countActiveByEntry(now: number): Promise<Record<string, number>> {
    const rows = this.#s['activeByEntry']!.all(now) as unknown as { entry: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.entry, Number(r.n)]));
  }

  async putVoCredential(v: VoCredentialRecord): Promise<void> {
    // A VO token is a bearer credential: sealed, so reading state.db does not give it away.
    this.#s['putVo']!.run(v.name, sealVoToken(this.#sealKey, v.name, v.token), v.expiresAt, v.updatedAt);
  }

  async probeWrite(bytes = 0): Promise<void> {
    // zeroblob(N) is N bytes of real pages in the WAL: a probe as large as a refresh's commit
    // needs the space that commit needs (a one-page write fits in a failed commit's leftovers).
    this.#s['writeProbe']!.run(Date.now(), bytes);
  }

  async nextRoundRobin(name: string): Promise<number> {
    return Number((this.#s['roundRobin']!.get(name) as { n: number }).n);
  }

  async getVoCredential(name: string, now: number): Promise<VoCredentialRecord | undefined> {
    const row = this.#s['getVo']!.get(name, now) as { name: string; token: string; expires_at: number; updated_at: number } | undefined;
    // A plain value is one an older release wrote and no keyed open has sealed yet.
    const token = row === undefined ? '' : isSealed(row.token) ? openVoToken(this.#sealKey, name, row.token, `state database ${this.path}`) : row.token;
    return row ? { name: row.name, token, expiresAt: row.expires_at, updatedAt: row.updated_at } : undefined;
  }

  async prune(now: number, graceSeconds: number): Promise<void> {
    this.#tx(() => {
      this.#s['pruneJti']!.run(now);
      this.#s['pruneFamilies']!.run(now - graceSeconds);
      this.#s['pruneSpent']!.run(now - graceSeconds);
    });
  }

  #addMissingColumns(): void {
    for (const [table, column, type] of ADDED_COLUMNS) {
      const columns = this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      if (!columns.some((c) => c.name === column)) this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }

  async close(): Promise<void> {
    this.#flush();
    if (this.#db.isOpen) this.#db.close();
  }
}
