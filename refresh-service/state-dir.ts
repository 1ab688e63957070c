// The state directory: 0700, holding state.db, the S-CRED signing keys and admin.token, each
// secret a 0600 file created exclusively and atomically (two processes starting at once agree
// on one value; a failed write leaves nothing half-written).
import { mkdir, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GlideinError, errnoCode } from '../shared/errors.ts';
import { createFileExclusively } from '../shared/exclusive-create.ts';
import { readFileSafely } from '../shared/safe-open.ts';

export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await stat(dir);
    if (!st.isDirectory()) throw new GlideinError('GLIDEIN_ERR_CONFIG', `state directory ${dir} is not a directory`);
    if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
  } catch (cause) {
    if (cause instanceof GlideinError) throw cause;
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `state directory ${dir} cannot be created or used (${errnoCode(cause) ?? String(cause)})`, { cause });
  }
}

/**
 * Write `content` to a new 0600 file, whole or not at all (shared/exclusive-create.ts); false if
 * it already exists (someone else won the race). A full disk gives GLIDEIN_ERR_STATE naming the
 * file and ENOSPC, and leaves no file behind.
 */
export async function createSecretFile(path: string, content: string, what = 'secret file'): Promise<boolean> {
  return createFileExclusively(path, content, { what });
}

/** Read a 0600 secret file, refusing group/other permission bits and symlinks. */
export async function readSecretFile(path: string): Promise<string> {
  const bytes = await readFileSafely(path, { code: 'GLIDEIN_ERR_KEY_FILE', what: 'secret file', maxBytes: 1024 * 1024, noFollow: true, privateMode: true });
  return bytes.toString('utf8');
}

/** The admin bearer token (`<state>/admin.token`), created on first use. */
export async function ensureAdminToken(dir: string): Promise<string> {
  const path = join(dir, 'admin.token');
  // Created whole (linked into place) or not at all: a racing process sees it complete.
  await createSecretFile(path, randomBytes(32).toString('base64url') + '\n', 'admin token');
  const t = (await readSecretFile(path)).trim();
  if (t.length >= 43) return t;
  throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `${path} holds no admin token (${t.length} characters; expected 43): remove it and start 'serve' again to make a new one`);
}
