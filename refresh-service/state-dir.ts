// The state directory: 0700, holding state.db, the S-CRED signing keys and admin.token, each
// secret a 0600 file created exclusively (two processes starting at once agree on one value).
import { mkdir, open, stat, chmod } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GlideinError, errnoCode } from '../shared/errors.ts';
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

/** Write `content` to a new 0600 file; false if it already exists (someone else won the race). */
export async function createSecretFile(path: string, content: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (cause) {
    if (errnoCode(cause) === 'EEXIST') return false;
    throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `cannot create ${path} (${errnoCode(cause) ?? String(cause)})`, { cause });
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/** Read a 0600 secret file, refusing group/other permission bits and symlinks. */
export async function readSecretFile(path: string): Promise<string> {
  const bytes = await readFileSafely(path, { code: 'GLIDEIN_ERR_KEY_FILE', what: 'secret file', maxBytes: 1024 * 1024, noFollow: true, privateMode: true });
  return bytes.toString('utf8');
}

/** The admin bearer token (`<state>/admin.token`), created on first use. */
export async function ensureAdminToken(dir: string): Promise<string> {
  const path = join(dir, 'admin.token');
  // A file written by a racing process may still be empty for a moment: retry briefly.
  await createSecretFile(path, randomBytes(32).toString('base64url') + '\n');
  for (let i = 0; i < 50; i++) {
    const t = (await readSecretFile(path)).trim();
    if (t.length >= 43) return t;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `${path} holds no admin token`);
}

