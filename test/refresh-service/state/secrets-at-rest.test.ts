// Secrets at rest in the SQLite state (issue 26 item 5): a pushed VO token is sealed under the
// POOL-derived key, never in state.db or its WAL in plain text; every state file is 0600 even
// under a permissive umask; a plain token an older release wrote is sealed at the next keyed open.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startRefreshService } from '../../../refresh-service/index.ts';
import { SqliteStateStore } from '../../../refresh-service/state/sqlite-store.ts';
import { sealingKey } from '../../../refresh-service/state/postgres-seal.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

const VO_TOKEN = `${Buffer.from('{"alg":"ES256","kid":"vo"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'pilot', exp: 4_000_000_000 })).toString('base64url')}.secret-signature-bytes`;

/** Every byte of the state files, as latin1 text, to search for a secret. */
function stateBytes(stateDir: string): string {
  return ['state.db', 'state.db-wal'].filter((f) => existsSync(join(stateDir, f))).map((f) => readFileSync(join(stateDir, f)).toString('latin1')).join('');
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('SQLite state at rest', () => {
  let sb: Sandbox | undefined;
  afterEach(async () => {
    await sb?.cleanup();
    sb = undefined;
  });

  it('seals a pushed VO token and keeps every state file 0600 under umask 022', async () => {
    sb = await makeSandbox();
    const old = process.umask(0o022);
    try {
      const config = sb.config({ voCredentials: { CE_VO: 'cms' } });
      const svc = await startRefreshService({ stateDir: sb.stateDir, config, listen: '127.0.0.1:0' });
      try {
        const admin = readFileSync(join(sb.stateDir, 'admin.token'), 'utf8').trim();
        const put = await fetch(`${svc.url}/v1/vo-credentials/cms`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ token: VO_TOKEN }) });
        expect(put.status).toBe(200);
        expect(stateBytes(sb.stateDir)).not.toContain('secret-signature-bytes');
        const files = readdirSync(sb.stateDir).filter((f) => f.startsWith('state.db'));
        expect(files).toEqual(expect.arrayContaining(['state.db', 'state.db-wal', 'state.db-shm']));
        for (const f of [...files, 'admin.token']) expect(`${f} ${mode(join(sb.stateDir, f))}`).toBe(`${f} 600`);
        for (const k of readdirSync(join(sb.stateDir, 'scitoken-keys'))) expect(mode(join(sb.stateDir, 'scitoken-keys', k))).toBe('600');
      } finally {
        await svc.close();
      }
    } finally {
      process.umask(old);
    }
  });

  it('seals a plain VO token an older release wrote, and still hands it out', async () => {
    sb = await makeSandbox();
    const key = sealingKey(Buffer.alloc(32, 3));
    new SqliteStateStore(sb.dir, { sealKey: key }).close();
    const raw = new DatabaseSync(join(sb.dir, 'state.db'));
    raw.prepare('INSERT INTO vo_credentials (name, token, expires_at, updated_at) VALUES (?, ?, ?, ?)').run('cms', VO_TOKEN, 4_000_000_000, 1);
    raw.close();
    expect(stateBytes(sb.dir)).toContain('secret-signature-bytes');
    const store = new SqliteStateStore(sb.dir, { sealKey: key });
    try {
      expect(stateBytes(sb.dir)).not.toContain('secret-signature-bytes');
      expect((await store.getVoCredential('cms', 1))?.token).toBe(VO_TOKEN);
    } finally {
      await store.close();
    }
    const other = new SqliteStateStore(sb.dir, { sealKey: sealingKey(Buffer.alloc(32, 4)) });
    try {
      await expect(other.getVoCredential('cms', 1)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
    } finally {
      await other.close();
    }
  });
});
