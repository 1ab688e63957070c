// Who owns a pilot work dir, and removing what dead pilots left (issue 12 item 3). Each pilot
// writes a lock record into its work dir right after creating it (before any secret): pid, the
// pid's start time from /proc (a reused pid has another), boot id, pid namespace, host and uid.
// At start a pilot wipes the work dirs under the same base whose owner is provably dead: same
// uid as us (owner of the dir too), same host, same boot, same pid namespace, and no process of
// that pid and start time. A dir whose owner cannot be proven dead (another host on a shared file
// system, another boot id, another pid namespace, no or a bad record) is left alone and logged.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, writeSync, chmodSync, chownSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { removeTree } from '../store/remove-tree.ts';

export const LOCK_FILE = '.glidein-pilot.lock';
const MAX_LOCK_BYTES = 4096;

export interface LockRecord {
  pid: number;
  /** Start time of pid in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: number;
  boot: string;
  pidns: string;
  host: string;
  uid: number;
}

/** Start time of a process (clock ticks since boot), or undefined when there is none. */
export function processStartTime(pid: number | 'self', procRoot = '/proc'): number | undefined {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'latin1');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function readOr(path: string, fallback: string, link = false): string {
  try {
    return link ? readlinkSync(path) : readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** This process's record. */
export function selfRecord(procRoot = '/proc'): LockRecord {
  return {
    pid: process.pid,
    start: processStartTime('self', procRoot) ?? -1,
    boot: readOr(join(procRoot, 'sys/kernel/random/boot_id'), 'unknown'),
    pidns: readOr(join(procRoot, 'self/ns/pid'), 'unknown', true),
    host: hostname(),
    uid: process.geteuid?.() ?? -1,
  };
}

/** Write this pilot's lock record into its (new, empty) work dir. */
export function writeWorkdirLock(dir: string, record: LockRecord = selfRecord()): void {
  const fd = openSync(join(dir, LOCK_FILE), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(record) + '\n');
  } finally {
    closeSync(fd);
  }
}

function readLock(dir: string): LockRecord | undefined {
  let fd: number;
  try {
    fd = openSync(join(dir, LOCK_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(MAX_LOCK_BYTES);
    const n = readSync(fd, buf, 0, MAX_LOCK_BYTES, 0);
    const r = JSON.parse(buf.subarray(0, n).toString('utf8')) as Partial<LockRecord>;
    const ok = Number.isInteger(r.pid) && Number.isInteger(r.start) && Number.isInteger(r.uid) && [r.boot, r.pidns, r.host].every((s) => typeof s === 'string');
    return ok ? (r as LockRecord) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * 'dead' only when provable from here: the same uid, host, boot and pid namespace as ours, and
 * no process of that pid and start time. 'unknown' when the owner lives where we cannot see:
 * another boot id under the same hostname is as likely a container elsewhere that shares the
 * name and the base dir as a crashed node, so it is not proof of death.
 */
export function ownerState(rec: LockRecord, self: LockRecord, procRoot = '/proc'): 'alive' | 'dead' | 'unknown' {
  if (rec.uid !== self.uid || rec.host !== self.host) return 'unknown';
  if (self.boot === 'unknown' || self.pidns === 'unknown' || self.start < 0) return 'unknown';
  if (rec.boot !== self.boot || rec.pidns !== self.pidns) return 'unknown';
  return processStartTime(rec.pid, procRoot) === rec.start ? 'alive' : 'dead';
}

/** Why a dir whose owner is not provably dead is left, for the log line; null for a live owner. */
function leftBecause(rec: LockRecord | undefined, self: LockRecord): string | null {
  if (!rec) return 'no readable lock record';
  if (rec.uid !== self.uid) return 'its record names another uid';
  if (rec.host !== self.host) return 'its owner ran on another host';
  if (rec.boot !== self.boot) return 'its owner ran under another boot id (another node or container with this hostname, or before a reboot)';
  if (rec.pidns !== self.pidns) return 'its owner ran in another pid namespace';
  return self.boot === 'unknown' || self.pidns === 'unknown' || self.start < 0 ? 'this pilot cannot read its own boot id or pid namespace' : null;
}

/** Take a dead pilot's job dirs back from their accounts before removing (as CredStore.wipe does). */
function reclaimJobDirs(dir: string): void {
  const jobs = join(dir, 'cred.d', 'jobs');
  if (process.geteuid?.() !== 0) return;
  for (const id of (() => { try { return readdirSync(jobs); } catch { return []; } })()) {
    try {
      chownSync(join(jobs, id), 0, 0);
      chmodSync(join(jobs, id), 0o700);
    } catch {
      /* removed below anyway */
    }
  }
}

/**
 * Remove a dead pilot's work dir, its lock record last: a removal that fails part way (a live
 * payload refilling its dir) leaves the record, so the next pilot tries again.
 */
async function removeWorkdir(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) if (name !== LOCK_FILE) await removeTree(join(dir, name));
  await removeTree(dir);
}

export interface StaleOptions {
  base: string;
  /** Work dir names start with this (the pilot's mkdtemp prefix). */
  prefix: string;
  /** Our own work dir, never touched. */
  own: string;
  log: Logger;
  procRoot?: string;
}

/**
 * Remove the work dirs under `base` that pilots of our uid left when they died; returns their paths.
 * A dead pilot's payloads may live on: the removal never follows a symlink one of them flips in
 * (descriptor-relative `removeTree`, not a path-based recursive rm, which root would let escape).
 */
export async function removeDeadPilotsWorkdirs(o: StaleOptions): Promise<string[]> {
  const self = selfRecord(o.procRoot);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(o.base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = join(o.base, name);
    if (!name.startsWith(o.prefix) || dir === o.own) continue;
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory() || st.uid !== self.uid) continue;
    const rec = readLock(dir);
    const state = rec ? ownerState(rec, self, o.procRoot) : 'unknown';
    if (!rec || state !== 'dead') {
      const why = state === 'unknown' ? leftBecause(rec, self) : null;
      if (why !== null) o.log.info('left a work dir whose owner is not provably dead', { dir, reason: why, ...(rec ? { pid: rec.pid, host: rec.host } : {}) });
      continue;
    }
    try {
      reclaimJobDirs(dir);
      await removeWorkdir(dir);
      removed.push(dir);
      o.log.warn('removed the work dir of a dead pilot', { dir, pid: rec.pid });
    } catch (e) {
      o.log.error('could not remove the work dir of a dead pilot', { dir, error: (e as Error).message });
    }
  }
  return removed;
}
