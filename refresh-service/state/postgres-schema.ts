// The PostgreSQL schema as a list of migrations, applied in order inside one transaction under
// an advisory lock (so instances starting together, and `refresh-service migrate`, never race),
// and the version check: an instance refuses a database whose schema is newer than it knows,
// since a newer instance may rely on rows this one would misread or fail to maintain.
import type postgres from 'postgres';
import { GlideinError } from '../../shared/errors.ts';

/** pg_advisory_xact_lock key for schema changes ("glidein" in ASCII, as a bigint). */
export const MIGRATION_LOCK = 0x676c6964656e;

// Migration 3's glidein_settle, kept as it was applied.
const SETTLE_V3 = `
CREATE FUNCTION glidein_settle(p_old TEXT, p_new TEXT, p_jkt TEXT, p_jti TEXT, p_jti_expires BIGINT, p_now BIGINT, p_grace BIGINT)
RETURNS TABLE (kind TEXT, bound BOOLEAN, glidein_id TEXT, entry TEXT, created_at BIGINT, expires_at BIGINT, revoked_at BIGINT, revoke_reason TEXT, jkt TEXT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  f families%ROWTYPE;
  t refresh_tokens%ROWTYPE;
  outcome TEXT;
  was_bound BOOLEAN := false;
BEGIN
  INSERT INTO dpop_jti (jti_hash, expires_at) VALUES (p_jti, p_jti_expires) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'replayed_jti', false, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT;
    RETURN;
  END IF;
  SELECT * INTO f FROM families WHERE glidein_id = (SELECT r.glidein_id FROM refresh_tokens r WHERE r.hash = p_old) FOR UPDATE;
  IF FOUND THEN
    SELECT * INTO t FROM refresh_tokens WHERE hash = p_old;
  END IF;
  IF f.glidein_id IS NULL OR t.hash IS NULL THEN
    outcome := 'unknown';
  ELSIF f.revoked_at IS NOT NULL THEN
    outcome := 'revoked';
  ELSIF f.expires_at <= p_now THEN
    outcome := 'expired';
  ELSIF f.jkt IS NOT NULL AND f.jkt <> p_jkt THEN
    outcome := 'wrong_key';
  ELSIF t.spent_at IS NULL THEN
    IF p_new IS NULL THEN
      outcome := 'unknown';
    ELSE
      UPDATE refresh_tokens SET spent_at = p_now, successor = p_new WHERE hash = p_old;
      INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES (p_new, f.glidein_id, p_now);
      IF f.jkt IS NULL THEN
        UPDATE families SET jkt = p_jkt, bound_at = p_now WHERE glidein_id = f.glidein_id;
        was_bound := true;
      END IF;
      outcome := 'rotated';
    END IF;
  ELSIF p_grace > 0 AND t.spent_at >= p_now - p_grace AND t.successor IS NOT NULL AND p_new IS NULL THEN
    outcome := 'unknown';
  ELSE
    IF p_grace > 0 AND t.spent_at >= p_now - p_grace AND t.successor IS NOT NULL THEN
      UPDATE refresh_tokens SET spent_at = p_now, successor = NULL WHERE hash = t.successor AND spent_at IS NULL;
      IF FOUND THEN
        INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES (p_new, f.glidein_id, p_now);
        UPDATE refresh_tokens SET successor = p_new WHERE hash = p_old;
        outcome := 'regranted';
      END IF;
    END IF;
    IF outcome IS NULL THEN
      UPDATE families SET revoked_at = p_now, revoke_reason = 'refresh token reuse' WHERE glidein_id = f.glidein_id;
      outcome := 'reused';
    END IF;
  END IF;
  RETURN QUERY SELECT outcome, was_bound, f.glidein_id, f.entry, f.created_at, f.expires_at, f.revoked_at, f.revoke_reason, f.jkt;
END;
$$;
`;

const WRONG_KEY_V3 = `  ELSIF f.jkt IS NOT NULL AND f.jkt <> p_jkt THEN
    outcome := 'wrong_key';`;
const WRONG_KEY_V6 = `  ELSIF f.jkt IS NOT NULL AND f.jkt <> p_jkt THEN
    IF f.first_token = p_old THEN
      UPDATE families SET revoked_at = p_now, revoke_reason = 'first token used by two keys' WHERE glidein_id = f.glidein_id;
      outcome := 'first_token_reuse';
    ELSE
      outcome := 'wrong_key';
    END IF;`;
if (!SETTLE_V3.includes(WRONG_KEY_V3)) throw new Error('postgres-schema: the wrong-key branch of glidein_settle moved');
/** glidein_settle from migration 6 on: the first token from a second key revokes the family. */
const SETTLE_WITH_FIRST_TOKEN = SETTLE_V3.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION').replace(WRONG_KEY_V3, WRONG_KEY_V6);

const GRACE_V6 = `  ELSIF p_grace > 0 AND t.spent_at >= p_now - p_grace AND t.successor IS NOT NULL AND p_new IS NULL THEN`;
const STALE_V7 = `  ELSIF t.successor IS NOT NULL AND (SELECT s.created_iat FROM refresh_tokens s WHERE s.hash = t.successor) >= p_iat THEN
    outcome := 'stale_proof';
${GRACE_V6}`;
const INSERT_V6 = 'INSERT INTO refresh_tokens (hash, glidein_id, issued_at) VALUES (p_new, f.glidein_id, p_now);';
const INSERT_V7 = 'INSERT INTO refresh_tokens (hash, glidein_id, issued_at, created_iat) VALUES (p_new, f.glidein_id, p_now, p_iat);';
for (const part of [GRACE_V6, INSERT_V6, 'p_grace BIGINT)']) {
  if (!SETTLE_WITH_FIRST_TOKEN.includes(part)) throw new Error(`postgres-schema: glidein_settle changed (${part.trim().slice(0, 40)})`);
}
/**
 * glidein_settle from migration 7 on (issue 26 item 7): a successor remembers the iat of the
 * proof it was made for, and a spent token presented with a proof no newer than that is
 * refused ('stale_proof'), nothing spent or revoked: a slow request never undoes a newer answer.
 */
const SETTLE_WITH_PROOF_IAT = SETTLE_WITH_FIRST_TOKEN
  .replace('p_grace BIGINT)', 'p_grace BIGINT, p_iat DOUBLE PRECISION)')
  .replace(GRACE_V6, STALE_V7)
  .replaceAll(INSERT_V6, INSERT_V7);

/** Each entry upgrades the schema from version i to i + 1. Never edit one that has shipped. */
export const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE families (
  glidein_id TEXT PRIMARY KEY,
  entry TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revoke_reason TEXT,
  jkt TEXT,
  status_report TEXT,
  status_at BIGINT
);
CREATE INDEX families_entry ON families(entry);
CREATE INDEX families_expiry ON families(expires_at);
CREATE TABLE refresh_tokens (
  hash TEXT PRIMARY KEY,
  glidein_id TEXT NOT NULL REFERENCES families(glidein_id) ON DELETE CASCADE,
  issued_at BIGINT NOT NULL,
  spent_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(glidein_id);
CREATE INDEX refresh_tokens_spent ON refresh_tokens(spent_at) WHERE spent_at IS NOT NULL;
CREATE TABLE dpop_jti (
  jti_hash TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_jti_expiry ON dpop_jti(expires_at);
CREATE TABLE vo_credentials (
  name TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- S-CRED signing keys shared by every instance: the private JWK sealed (AES-256-GCM) under a
-- key derived from the POOL key, which every instance holds and the database does not.
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  sealed TEXT NOT NULL
);
-- Small shared values: the SHA-256 of the admin bearer token.
CREATE TABLE service_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  // 2: rotation grace (a spent token's successor) and heartbeatTimeout (when a family was bound).
  `
ALTER TABLE refresh_tokens ADD COLUMN successor TEXT;
ALTER TABLE families ADD COLUMN bound_at BIGINT;
`,
  // 3: a refresh settled in one statement (one round trip instead of eight). Decided exactly as
  // store.ts's SettleOutcome says; the family row is the lock, taken before the token is read
  // (each statement of a volatile function sees what the previous lock holder committed).
  SETTLE_V3,
  // 4: the operator views (refresh-service/operator): a pilot's validation summary kept apart
  // from its last report, and refreshes answered per entry and hour (kept two days).
  `
ALTER TABLE families ADD COLUMN validation TEXT;
ALTER TABLE families ADD COLUMN validated_at BIGINT;
CREATE TABLE refresh_counts (
  entry TEXT NOT NULL,
  hour BIGINT NOT NULL,
  ok BIGINT NOT NULL,
  failed BIGINT NOT NULL,
  PRIMARY KEY (entry, hour)
);
`,
  // 5: round-robin entry parameters (issue 15): the next item's index per entry and parameter.
  `
CREATE TABLE round_robin (
  name TEXT PRIMARY KEY,
  next BIGINT NOT NULL
);
`,
  // 6: the first token of a family (issue 21 item 4): presented by a second key, it revokes the
  // family. glidein_settle is migration 3's, with that one branch more.
  `
ALTER TABLE families ADD COLUMN first_token TEXT;
${SETTLE_WITH_FIRST_TOKEN}`,
  // 7: the iat of the proof a token was made for (issue 26 item 7); glidein_settle gains p_iat.
  `
ALTER TABLE refresh_tokens ADD COLUMN created_iat DOUBLE PRECISION;
DROP FUNCTION glidein_settle(TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, BIGINT);
${SETTLE_WITH_PROOF_IAT}`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS glidein_schema (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

export interface MigrationResult {
  from: number;
  to: number;
}

function tooNew(found: number, where: string): GlideinError {
  return new GlideinError(
    'GLIDEIN_ERR_STATE',
    `database ${where} has schema version ${found}, newer than the ${SCHEMA_VERSION} this glidein knows; run the newer glidein release here (or migrate with it), never an older one against a newer schema`,
  );
}

/** Create or upgrade the schema to SCHEMA_VERSION; all or nothing. Refuses a newer schema. */
export async function migrateSchema(sql: postgres.Sql, where: string): Promise<MigrationResult> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx.unsafe(VERSION_TABLE);
    const rows = await tx<{ version: number }[]>`SELECT version FROM glidein_schema WHERE id = 1`;
    const from = rows[0]?.version ?? 0;
    if (from > SCHEMA_VERSION) throw tooNew(from, where);
    for (let v = from; v < SCHEMA_VERSION; v++) await tx.unsafe(MIGRATIONS[v]!);
    if (from !== SCHEMA_VERSION) {
      await tx`INSERT INTO glidein_schema (id, version) VALUES (1, ${SCHEMA_VERSION})
               ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = now()`;
    }
    return { from, to: SCHEMA_VERSION };
  }) as Promise<MigrationResult>;
}

/** The schema version in the database (0: none yet). */
export async function schemaVersion(sql: postgres.Sql): Promise<number> {
  const t = await sql<{ t: string | null }[]>`SELECT to_regclass('glidein_schema')::text AS t`;
  if (t[0]?.t == null) return 0;
  const rows = await sql<{ version: number }[]>`SELECT version FROM glidein_schema WHERE id = 1`;
  return rows[0]?.version ?? 0;
}

/** Refuse a database whose schema is not the one this instance knows (for opening without migrating). */
export async function checkSchemaVersion(sql: postgres.Sql, where: string): Promise<void> {
  const found = await schemaVersion(sql);
  if (found > SCHEMA_VERSION) throw tooNew(found, where);
  if (found < SCHEMA_VERSION) {
    throw new GlideinError('GLIDEIN_ERR_STATE', `database ${where} has schema version ${found}, older than ${SCHEMA_VERSION}; run 'glidein refresh-service migrate --config FILE'`);
  }
}
