// Removing a directory tree that another account may still be changing (issue 11, item 3).
// A path-based recursive removal (fs.rm, `rm -rf` as root) checks an entry, then acts on it by
// its path again: a process of the tree's owner that swaps a subdirectory for a symlink between
// the two makes root list and unlink files wherever the symlink points. Node has no
// openat/unlinkat, so each directory is opened once (O_DIRECTORY|O_NOFOLLOW) and every later
// step goes through `/proc/self/fd/N/<name>`: the kernel resolves that to the opened directory
// itself, wherever it has been moved, and the single last component is never followed by
// lstat, unlink, rmdir or rename. A symlink is therefore removed, never followed; a
// subdirectory swapped after the listing fails to open and is unlinked as what it now is.
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { GlideinError, errnoCode } from '../../shared/errors.ts';

export interface RemoveTreeOptions {
  /**
   * Called with a directory's path inside the tree ('' for the top) and the names just listed
   * in it, before any of them is touched. Tests use it to change the tree at exactly that
   * moment; production passes nothing.
   */
  onListed?: (dir: string, names: readonly string[]) => void | Promise<void>;
}

/** Open directories at once, at most; deeper ones are moved up to the top and removed from there. */
const MAX_OPEN_DEPTH = 32;
/** Listings per directory before giving up on one that keeps refilling (a live process). */
const MAX_ROUNDS = 8;
/** Branches moved up to the top, at most (a tree MAX_OPEN_DEPTH times this deep). */
const MAX_MOVES = 100_000;
const OPEN_DIR = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

interface Walk {
  readonly top: string;
  readonly topFd: number;
  readonly dev: number;
  /** Deep branches moved up to the top, removed after it. */
  readonly deferred: Set<string>;
  readonly options: RemoveTreeOptions;
  moved: number;
}

const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

function fail(path: string, action: string, cause: unknown): GlideinError {
  const errno = errnoCode(cause);
  return new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot ${action} (${errno ?? String(cause)})`, { cause, details: { path, errno } });
}

/** Open `path` as a directory without following a symlink; null when it is not one (any more). */
async function openDir(path: string): Promise<FileHandle | null> {
  try {
    return await fsp.open(path, OPEN_DIR);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') return null;
    throw e;
  }
}

/** Remove one entry of an open directory that is not a directory to descend into. */
async function unlinkEntry(fd: number, name: string): Promise<void> {
  try {
    await fsp.unlink(at(fd, name));
  } catch (e) {
    // Gone, or swapped for a directory since the listing: the next listing round deals with it.
    if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'EISDIR') throw e;
  }
}

/** Empty and remove the subdirectory `name` of the open directory `fd`. */
async function removeSubdir(w: Walk, fd: number, rel: string, name: string, depth: number): Promise<void> {
  if (depth >= MAX_OPEN_DEPTH) {
    // Keep the number of open descriptors bounded: continue this branch from the top.
    if (++w.moved > MAX_MOVES) throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${w.top}/${rel}: cannot remove (the tree is deeper than ${MAX_OPEN_DEPTH * MAX_MOVES} levels)`);
    const moved = `.glidein-rm-${process.pid}-${w.moved}`;
    await fsp.rename(at(fd, name), at(w.topFd, moved));
    w.deferred.add(moved);
    return;
  }
  const child = await openDir(at(fd, name));
  if (!child) return unlinkEntry(fd, name);
  try {
    await emptyDir(w, child, rel ? `${rel}/${name}` : name, depth);
  } finally {
    await child.close();
  }
  try {
    await fsp.rmdir(at(fd, name));
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOTDIR') return unlinkEntry(fd, name); // swapped for a symlink meanwhile
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

/** Remove everything in the open directory `dir` (`rel` inside the tree, for hooks and errors). */
async function emptyDir(w: Walk, dir: FileHandle, rel: string, depth: number): Promise<void> {
  const st = await dir.stat();
  if (st.dev !== w.dev) throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${w.top}/${rel}: is a mount point inside the tree; not removed`, { details: { path: `${w.top}/${rel}` } });
  // A directory the pilot itself owns but made unwritable (a payload run as the pilot can).
  if (process.geteuid?.() !== 0 && (st.mode & 0o700) !== 0o700) await dir.chmod(0o700).catch(() => undefined);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // The listing's file types may be stale by the time an entry is acted on; that is safe:
    // unlink never follows and fails on a directory, and a "directory" is opened O_NOFOLLOW.
    const entries = (await fsp.readdir(at(dir.fd, ''), { withFileTypes: true })).filter((d) => depth > 0 || !w.deferred.has(d.name));
    if (entries.length === 0) return;
    await w.options.onListed?.(rel, entries.map((d) => d.name));
    for (const entry of entries) {
      if (entry.isDirectory()) await removeSubdir(w, dir.fd, rel, entry.name, depth + 1);
      else await unlinkEntry(dir.fd, entry.name);
    }
  }
  throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${w.top}/${rel}: cannot remove (ENOTEMPTY: still refilled after ${MAX_ROUNDS} rounds; is a process of its owner alive?)`, {
    details: { path: `${w.top}/${rel}`, errno: 'ENOTEMPTY' },
  });
}

/**
 * Remove `path` and everything under it without ever following a symlink inside it; a path
 * already gone is fine. `path` itself is resolved by name: its parent must not be writable by
 * anyone the removal has to resist (the store's `jobs/` is the pilot's own).
 */
export async function removeTree(path: string, options: RemoveTreeOptions = {}): Promise<void> {
  let top: FileHandle | null;
  try {
    top = await openDir(path);
    if (!top) {
      await fsp.unlink(path).catch((e: unknown) => {
        if (errnoCode(e) !== 'ENOENT') throw e;
      });
      return;
    }
  } catch (e) {
    throw e instanceof GlideinError ? e : fail(path, 'remove', e);
  }
  try {
    const w: Walk = { top: path, topFd: top.fd, dev: (await top.stat()).dev, deferred: new Set(), options, moved: 0 };
    await emptyDir(w, top, '', 0);
    for (const name of w.deferred) {
      w.deferred.delete(name);
      await removeSubdir(w, top.fd, '', name, 1);
    }
    await emptyDir(w, top, '', 0);
  } catch (e) {
    throw e instanceof GlideinError ? e : fail(path, 'remove', e);
  } finally {
    await top.close();
  }
  try {
    await fsp.rmdir(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw fail(path, 'remove', e);
  }
}
