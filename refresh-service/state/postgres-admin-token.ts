// The admin bearer token shared by every instance on one database: the first instance to start
// publishes the SHA-256 of its `<state>/admin.token`; every instance then checks admin requests
// against that one hash, so the operator's token works whichever instance answers. Only the
// hash is in the database.
import { createHash } from 'node:crypto';
import { stateError, type Sql } from './postgres-connect.ts';

const SETTING = 'admin_token_sha256';

/**
 * Publish `localToken`'s hash unless one is already published; return the shared hash and
 * whether it is this instance's own token (if not, the operator must use the first instance's).
 */
export async function sharedAdminTokenHash(sql: Sql, where: string, localToken: string): Promise<{ hash: Buffer; local: boolean }> {
  const mine = createHash('sha256').update(localToken).digest();
  try {
    await sql`INSERT INTO service_settings (name, value) VALUES (${SETTING}, ${mine.toString('hex')}) ON CONFLICT (name) DO NOTHING`;
    const [row] = await sql<{ value: string }[]>`SELECT value FROM service_settings WHERE name = ${SETTING}`;
    const hash = Buffer.from(row!.value, 'hex');
    return { hash, local: hash.equals(mine) };
  } catch (e) {
    throw stateError(where, e);
  }
}
