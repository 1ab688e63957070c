// The state directory: 0700, holding state.db, the S-CRED signing keys and admin.token, each
// secret a 0600 file created exclusively and atomically (two processes starting at once agree
// on one value; a failed write leaves nothing half-written).
import { access, mkdir, stat, chmod } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GlideinError, errnoCode } from '../shared/errors.ts';
import { createFileExclusively, describeErrno } from '../shared/exclusive-create.ts';
import { readFileSafely } from '../shared/safe-open.ts';

export interface StateDirOptions {
  /** Make the dir when it does not exist (serve --init, register, the library API); else exit 2. */
  create?: boolean;
}

/**
 * Make sure `dir` is a state dir this account can use: an existing dir must be writable (exit 2
 * naming the dir, its owner and mode, and this account otherwise: issue 26 item 4); a missing
 * one is made only with `create`. Returns true when it was made now.
 */
export async function ensureStateDir(dir: string, options: StateDirOptions = {}): Promise<boolean> {
  try {
    let st = await stat(dir).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    let created = false;
    if (st === undefined) {
      if (options.create === false) {
        throw new GlideinError('GLIDEIN_ERR_CONFIG', `state directory ${dir} does not exist: give --init to make a new service there (new signing keys and admin token), or correct --state`);
      }
      await mkdir(dir, { recursive: true, mode: 0o700 });
      st = await stat(dir);
      created = true;
    }
    if (!st.isDirectory()) throw new GlideinError('GLIDEIN_ERR_CONFIG', `state directory ${dir} is not a directory`);
    await assertWritable(dir, st);
    if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
    return created;
  } catch (cause) {
    if (cause instanceof GlideinError) throw cause;
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `state directory ${dir} cannot be created or used (${describeErrno(cause)})`, { cause });
  }
}

async function assertWritable(dir: string, st: Stats): Promise<void> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    const who = `uid ${process.geteuid?.() ?? '?'}`;
    throw new GlideinError(
      'GLIDEIN_ERR_CONFIG',
      `state directory ${dir} is not writable by this account (${who}): ${describeErrno(cause)}; it is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}. Run serve as its owner, or give the account the dir (chown)`,
      { cause, details: { path: dir, errno: errnoCode(cause), owner: st.uid } },
    );
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
export function adminTokenPath(dir: string): string {
  return join(dir, 'admin.token');
}

export async function ensureAdminToken(dir: string): Promise<string> {
  const path = adminTokenPath(dir);
  // Created whole (linked into place) or not at all: a racing process sees it complete.
  await createSecretFile(path, randomBytes(32).toString('base64url') + '\n', 'admin token');
  const t = (await readSecretFile(path)).trim();
  if (t.length >= 43) return t;
  throw new GlideinError('GLIDEIN_ERR_KEY_FILE', `${path} holds no admin token (${t.length} characters; expected 43): remove it and start 'serve' again to make a new one`);
}
