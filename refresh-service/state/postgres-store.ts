// StateStore on PostgreSQL, for several `serve` instances behind one address. Concurrency by
// row locks at READ COMMITTED: a refresh locks its family row (SELECT ... FOR UPDATE) before it
// reads the token, so of two instances given the same token at the same moment the second waits
// for the first to commit, then finds the token spent: exactly one rotation, and the second is
// decided by the grace rules (store.ts) as in the SQLite store. The refresh runs as one statement
// (glidein_settle, postgres-schema.ts): one round trip. Every commit is durable (the server's
// synchronous_commit, on by default) before a method returns, so an answer sent after is never lost.
import { createHash } from 'node:crypto';
import { FIRST_TOKEN_REUSE_REASON, WRITE_PROBE_NAME } from './store.ts';
import type { FamilyRecord, PilotRecord, RefreshCount, SettleOutcome, SettleRequest, StateStore, TokenPeek, VoCredentialRecord } from './store.ts';
import { GlideinError } from '../../shared/errors.ts';
import { isRetryable, stateError, type Sql, type Tx } from './postgres-connect.ts';
import { openVoToken, sealVoToken } from './vo-seal.ts';

/** Only one instance prunes at a time (the others skip that round). */
const PRUNE_LOCK = 0x676c69646e70;
const MAX_ATTEMPTS = 5;

const FAMILY_COLUMNS = `f.glidein_id AS "glideinId", f.entry, f.created_at AS "createdAt", f.expires_at AS "expiresAt",
  f.revoked_at AS "revokedAt", f.revoke_reason AS "revokeReason", f.jkt`;

type FamilyRow = FamilyRecord & { spentAt?: number | null };

function family(row: FamilyRow): FamilyRecord {
  return { glideinId: row.glideinId, entry: row.entry, createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt, revokeReason: row.revokeReason, jkt: row.jkt };
}

function hashJti(jti: string): string {
  return createHash('sha256').update(jti).digest('base64url');
}

export class PostgresStateStore implements StateStore {
  /** The pool, for the other shared state kept beside the store (signing keys, admin token). */
  readonly sql: Sql;
  /** The database URL (no secret in it), for messages. */
  readonly where: string;
  /** Seals pushed VO tokens (postgres-seal.ts); without it they can be neither stored nor read. */
  readonly #sealKey: Buffer | undefined;

  constructor(sql: Sql, where: string, sealKey?: Buffer) {
    this.sql = sql;
    this.where = where;
    this.#sealKey = sealKey;
  }

  /** Run `fn` in one transaction, again from the start after a deadlock or serialisation failure. */
  #tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#q((sql) => sql.begin(fn) as Promise<T>);
  }

  /** One statement (its own transaction), or #tx's; again after a deadlock or serialisation failure (nothing was committed). */
  async #q<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.sql);
      } catch (e) {
        if (attempt < MAX_ATTEMPTS && isRetryable(e)) continue;
        throw stateError(this.where, e);
      }
    }
  }

  async registerFamily(f: { glideinId: string; entry: string; createdAt: number; expiresAt: number }, tokenHash: string): Promise<void> {
    await this.#tx(async (tx) => {
      const made = await tx`INSERT INTO families (glidein_id, entry, created_at, expires_at, first_token) VALUES (${f.glideinId}, ${f.entry}, ${f.createdAt}, ${f.expiresAt}, ${tokenHash})
                            ON CONFLICT (glidein_id) DO NOTHING RETURNING 1`;
      if (made.length === 0) throw new GlideinError('GLIDEIN_ERR_STATE', `glidein id '${f.glideinId}' is already registered; glidein ids are never reused`);
      await tx`INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES (${tokenHash}, ${f.glideinId}, ${f.createdAt})`;
    });
  }

  async peekToken(tokenHash: string): Promise<TokenPeek | undefined> {
    const rows = await this.#q((sql) => sql<FamilyRow[]>`SELECT ${sql.unsafe(FAMILY_COLUMNS)}, t.spent_at AS "spentAt"
      FROM refresh_tokens t JOIN families f ON f.glidein_id = t.glidein_id WHERE t.hash = ${tokenHash}`);
    const row = rows[0];
    return row ? { family: family(row), spent: row.spentAt != null, spentAt: row.spentAt ?? null } : undefined;
  }

  /**
   * One statement: glidein_settle (postgres-schema.ts, migrations 3, 6 and 7) decides and applies the
   * outcome in its own transaction, committed before the answer comes back.
   */
  async settleRefresh(r: SettleRequest): Promise<SettleOutcome> {
    const rows = await this.#q((sql) => sql<(FamilyRow & { kind: SettleOutcome['kind']; bound: boolean })[]>`SELECT kind, bound,
      glidein_id AS "glideinId", entry, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt", revoke_reason AS "revokeReason", jkt
      FROM glidein_settle(${r.oldHash}, ${r.newHash}, ${r.jkt}, ${hashJti(r.jti)}, ${r.jtiExpiresAt}, ${r.now}, ${r.graceSeconds}, ${r.proofIat ?? r.now})`);
    const row = rows[0]!;
    if (row.kind === 'replayed_jti' || row.kind === 'unknown') return { kind: row.kind };
    const fam = family(row);
    if (row.kind === 'rotated') return { kind: 'rotated', family: { ...fam, jkt: r.jkt }, bound: row.bound };
    if (row.kind === 'reused') return { kind: 'reused', family: { ...fam, revokedAt: r.now, revokeReason: 'refresh token reuse' } };
    if (row.kind === 'first_token_reuse') return { kind: 'first_token_reuse', family: { ...fam, revokedAt: r.now, revokeReason: FIRST_TOKEN_REUSE_REASON } };
    return { kind: row.kind, family: fam };
  }

  async recordJti(jti: string, expiresAt: number, _now: number): Promise<boolean> {
    const rows = await this.#q((sql) => sql`INSERT INTO dpop_jti (jti_hash, expires_at) VALUES (${hashJti(jti)}, ${expiresAt}) ON CONFLICT DO NOTHING RETURNING 1`);
    return rows.length === 1;
  }

  async getFamily(glideinId: string): Promise<FamilyRecord | undefined> {
    const rows = await this.#q((sql) => sql<FamilyRow[]>`SELECT ${sql.unsafe(FAMILY_COLUMNS)} FROM families f WHERE f.glidein_id = ${glideinId}`);
    return rows[0] ? family(rows[0]) : undefined;
  }

  async revokeByGlideinId(glideinId: string, reason: string, now: number): Promise<number> {
    const r = await this.#q((sql) => sql`UPDATE families SET revoked_at = ${now}, revoke_reason = ${reason} WHERE glidein_id = ${glideinId} AND revoked_at IS NULL`);
    return r.count;
  }

  async revokeByEntry(entry: string, reason: string, now: number): Promise<number> {
    const r = await this.#q((sql) => sql`UPDATE families SET revoked_at = ${now}, revoke_reason = ${reason} WHERE entry = ${entry} AND revoked_at IS NULL`);
    return r.count;
  }

  async revokeSilentFamilies(silentSince: number, reason: string, now: number): Promise<{ glideinId: string; entry: string }[]> {
    const rows = await this.#q((sql) => sql<{ glideinId: string; entry: string }[]>`UPDATE families SET revoked_at = ${now}, revoke_reason = ${reason}
      WHERE revoked_at IS NULL AND expires_at > ${now} AND jkt IS NOT NULL AND coalesce(status_at, bound_at, created_at) < ${silentSince}
      RETURNING glidein_id AS "glideinId", entry`);
    return rows.map((r) => ({ glideinId: r.glideinId, entry: r.entry }));
  }

  async recordStatus(glideinId: string, report: string, now: number): Promise<void> {
    await this.#q((sql) => sql`UPDATE families SET status_report = ${report}, status_at = ${now} WHERE glidein_id = ${glideinId}`);
  }

  async getStatus(glideinId: string): Promise<{ report: string; at: number } | undefined> {
    const rows = await this.#q((sql) => sql<{ report: string | null; at: number | null }[]>`SELECT status_report AS report, status_at AS at FROM families WHERE glidein_id = ${glideinId}`);
    const row = rows[0];
    return row && row.report !== null ? { report: row.report, at: row.at ?? 0 } : undefined;
  }

  async countActiveFamilies(now: number): Promise<number> {
    const rows = await this.#q((sql) => sql<{ n: number }[]>`SELECT count(*)::int8 AS n FROM families WHERE revoked_at IS NULL AND expires_at > ${now}`);
    return rows[0]!.n;
  }

  async recordValidation(glideinId: string, summary: string, now: number): Promise<void> {
    await this.#q((sql) => sql`UPDATE families SET validation = ${summary}, validated_at = ${now} WHERE glidein_id = ${glideinId}`);
  }

  async listPilots(filter: { entry?: string; glideinId?: string }): Promise<PilotRecord[]> {
    const entry = filter.entry ?? null;
    const id = filter.glideinId ?? null;
    const rows = await this.#q((sql) => sql<PilotRecord[]>`SELECT ${sql.unsafe(FAMILY_COLUMNS)}, f.bound_at AS "boundAt",
      CASE WHEN f.bound_at IS NULL THEN NULL ELSE (SELECT max(t.issued_at) FROM refresh_tokens t WHERE t.glidein_id = f.glidein_id) END AS "lastRefreshAt",
      f.status_report AS "statusReport", f.status_at AS "statusAt", f.validation, f.validated_at AS "validatedAt"
      FROM families f WHERE (${entry}::text IS NULL OR f.entry = ${entry}) AND (${id}::text IS NULL OR f.glidein_id = ${id}) ORDER BY f.glidein_id COLLATE "C"`);
    return rows.map((r) => ({ ...family(r), boundAt: r.boundAt, lastRefreshAt: r.lastRefreshAt, statusReport: r.statusReport, statusAt: r.statusAt, validation: r.validation, validatedAt: r.validatedAt }));
  }

  async refreshTimes(glideinId: string, limit: number): Promise<number[]> {
    const rows = await this.#q((sql) => sql<{ at: number }[]>`SELECT t.issued_at AS at FROM refresh_tokens t JOIN families f ON f.glidein_id = t.glidein_id
      WHERE t.glidein_id = ${glideinId} AND (t.issued_at > f.created_at OR EXISTS (SELECT 1 FROM refresh_tokens p WHERE p.glidein_id = ${glideinId} AND p.successor = t.hash))
      ORDER BY t.issued_at DESC LIMIT ${limit}`);
    return rows.map((r) => Number(r.at));
  }

  async addRefreshCounts(counts: RefreshCount[], keepSince: number): Promise<void> {
    await this.#tx(async (tx) => {
      for (const c of counts) {
        await tx`INSERT INTO refresh_counts (entry, hour, ok, failed) VALUES (${c.entry}, ${c.hour}, ${c.ok}, ${c.failed})
                 ON CONFLICT (entry, hour) DO UPDATE SET ok = refresh_counts.ok + excluded.ok, failed = refresh_counts.failed + excluded.failed`;
      }
      await tx`DELETE FROM refresh_counts WHERE hour < ${keepSince}`;
    });
  }

  async refreshCounts(since: number): Promise<RefreshCount[]> {
    const rows = await this.#q((sql) => sql<RefreshCount[]>`SELECT entry, hour, ok, failed FROM refresh_counts WHERE hour >= ${since} ORDER BY entry, hour`);
    return rows.map((c) => ({ entry: c.entry, hour: Number(c.hour), ok: Number(c.ok), failed: Number(c.failed) }));
  }

  async countActiveByEntry(now: number): Promise<Record<string, number>> {
    const rows = await this.#q((sql) => sql<{ entry: string; n: number }[]>`SELECT entry, count(*)::int8 AS n FROM families WHERE revoked_at IS NULL AND expires_at > ${now} GROUP BY entry`);
    return Object.fromEntries(rows.map((r) => [r.entry, Number(r.n)]));
  }

  async putVoCredential(v: VoCredentialRecord): Promise<void> {
    // A VO token is a bearer credential: sealed, so reading the database does not give it away.
    const sealed = sealVoToken(this.#sealKey, v.name, v.token);
    await this.#q((sql) => sql`INSERT INTO vo_credentials (name, token, expires_at, updated_at) VALUES (${v.name}, ${sealed}, ${v.expiresAt}, ${v.updatedAt})
      ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at, updated_at = excluded.updated_at`);
  }

  async probeWrite(): Promise<void> {
    // The database server keeps its own disk; proving one committed write is what readiness needs.
    await this.nextRoundRobin(WRITE_PROBE_NAME);
  }

  async nextRoundRobin(name: string): Promise<number> {
    const rows = await this.#q((sql) => sql<{ n: string }[]>`INSERT INTO round_robin (name, next) VALUES (${name}, 1)
      ON CONFLICT (name) DO UPDATE SET next = round_robin.next + 1 RETURNING next - 1 AS n`);
    return Number(rows[0]!.n);
  }

  async getVoCredential(name: string, now: number): Promise<VoCredentialRecord | undefined> {
    const rows = await this.#q((sql) => sql<VoCredentialRecord[]>`SELECT name, token, expires_at AS "expiresAt", updated_at AS "updatedAt"
      FROM vo_credentials WHERE name = ${name} AND expires_at > ${now}`);
    const row = rows[0];
    if (!row) return undefined;
    return { ...row, token: openVoToken(this.#sealKey, name, row.token, `database ${this.where}`) };
  }


  async prune(now: number, graceSeconds: number): Promise<void> {
    await this.#tx(async (tx) => {
      const [lock] = await tx<{ got: boolean }[]>`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK}) AS got`;
      if (!lock?.got) return;
      await tx`DELETE FROM dpop_jti WHERE expires_at < ${now}`;
      await tx`DELETE FROM families WHERE expires_at < ${now - graceSeconds}`;
      await tx`DELETE FROM refresh_tokens WHERE spent_at IS NOT NULL AND spent_at < ${now - graceSeconds}`;
    });
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
