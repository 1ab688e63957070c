// SQLite's state at rest stays private: state.db, state.db-wal and state.db-shm are 0600 whatever
// the umask (SQLite gives the -wal and -shm files the main file's mode, so the main file is made
// 0600 before SQLite opens it), deleted content is overwritten (secure_delete), and VO tokens
// written in plain text by an older release are sealed when the POOL key is at hand.
import { chmodSync, closeSync, constants, existsSync, fchmodSync, openSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { GlideinError, errnoCode } from '../../shared/errors.ts';
import { isSealed, sealVoToken } from './vo-seal.ts';

export const STATE_FILE_MODE = 0o600;

/** Create `path` 0600 if missing, and make it and its -wal/-shm companions 0600. */
export function makeDbFilesPrivate(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, STATE_FILE_MODE);
    fchmodSync(fd, STATE_FILE_MODE);
  } catch (cause) {
    const errno = errnoCode(cause) ?? String(cause);
    throw new GlideinError('GLIDEIN_ERR_STATE', `state database ${path} cannot be opened for writing (${errno}${errno === 'EACCES' ? ': this account may not write it' : ''})`, { cause });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  for (const companion of [`${path}-wal`, `${path}-shm`]) {
    if (existsSync(companion)) chmodSync(companion, STATE_FILE_MODE);
  }
}

/** Seal every VO token still stored in plain text; returns how many were sealed. */
export function sealPlainVoTokens(db: DatabaseSync, key: Buffer): number {
  const rows = db.prepare('SELECT name, token FROM vo_credentials').all() as { name: string; token: string }[];
  const plain = rows.filter((r) => !isSealed(r.token));
  if (plain.length === 0) return 0;
  const update = db.prepare('UPDATE vo_credentials SET token = ? WHERE name = ?');
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const r of plain) update.run(sealVoToken(key, r.name, r.token), r.name);
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
  // The plain text must not stay in the WAL either: copy it into the main file and truncate it.
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  return plain.length;
}
