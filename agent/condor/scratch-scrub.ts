// What a switched job leaves in the starter's scratch dir must not hand the pilot's files to the
// submitter (issue 21 item 3). HTCondor's output transfer runs as the pilot and follows symlinks
// (file_transfer.cpp: lstat, then stat): a job that planted `cc.link -> <pilot>/cred.d/…`, or
// replaced _condor_stdout with such a link, got the C-CRED and the DPoP key sent home. So when
// the job has ended (the sandbox has killed its processes) and before the wrapper exits (the
// starter transfers only then), the wrapper first takes the mapped account's access to the
// scratch dir back, then removes everything in it that could resolve outside it: every
// symbolic link (to a file or a directory), every FIFO, socket or device (a FIFO would also
// block the transfer), and every file of another owner with more than one hard link. The walk
// is descriptor-relative (`/proc/self/fd/N/<name>`, O_NOFOLLOW, as remove-tree.ts): an entry
// swapped after it was looked at is judged as what it now is, and nothing is followed.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';

const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const MAX_DEPTH = 64;
const MAX_ENTRIES = 200_000;
const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

export interface ScrubReport {
  /** Paths removed, relative to the scratch dir, with what they were. */
  removed: string[];
  /** What could not be checked or removed (the wrapper fails the attempt when this is not empty). */
  problems: string[];
}

interface Walk {
  jobUid: number;
  seen: number;
  report: ScrubReport;
}

/** Why an entry must go, or null when it stays. */
export function danger(st: Stats, jobUid: number): string | null {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFile() && st.nlink > 1 && st.uid !== jobUid) return `a hard link (${st.nlink} links, uid ${st.uid})`;
  return null;
}

function scrubDir(w: Walk, fd: number, rel: string, depth: number): void {
  let names: string[];
  try {
    names = readdirSync(at(fd, '.'));
  } catch (e) {
    w.report.problems.push(`${rel || '.'}: cannot list (${errnoCode(e) ?? String(e)})`);
    return;
  }
  for (const name of names) {
    const path = rel ? join(rel, name) : name;
    if (++w.seen > MAX_ENTRIES) {
      w.report.problems.push(`more than ${MAX_ENTRIES} entries: not all were checked`);
      return;
    }
    let st: Stats;
    try {
      st = lstatSync(at(fd, name));
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') w.report.problems.push(`${path}: cannot lstat (${errnoCode(e) ?? String(e)})`);
      continue;
    }
    if (st.isDirectory()) {
      scrubSubdir(w, fd, name, path, depth + 1);
      continue;
    }
    const why = danger(st, w.jobUid);
    if (why === null) continue;
    try {
      unlinkSync(at(fd, name));
      w.report.removed.push(`${path} (${why})`);
    } catch (e) {
      w.report.problems.push(`${path} is ${why} and cannot be removed (${errnoCode(e) ?? String(e)})`);
    }
  }
}

function scrubSubdir(w: Walk, parent: number, name: string, path: string, depth: number): void {
  if (depth > MAX_DEPTH) {
    // Too deep to check: remove it if it is empty, else refuse to let the transfer go on.
    try {
      rmdirSync(at(parent, name));
    } catch {
      w.report.problems.push(`${path}: deeper than ${MAX_DEPTH} levels, not checked`);
    }
    return;
  }
  let fd: number;
  try {
    fd = openSync(at(parent, name), OPEN_DIR);
  } catch (e) {
    // Swapped for a symlink or a file since the lstat: judge it again as what it is now.
    const code = errnoCode(e);
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      try {
        unlinkSync(at(parent, name));
        w.report.removed.push(`${path} (replaced while checked)`);
      } catch (e2) {
        w.report.problems.push(`${path}: replaced while checked and cannot be removed (${errnoCode(e2) ?? String(e2)})`);
      }
    } else if (code !== 'ENOENT') {
      w.report.problems.push(`${path}: cannot open (${code ?? String(e)})`);
    }
    return;
  }
  try {
    if (fstatSync(fd).isDirectory()) scrubDir(w, fd, path, depth);
  } finally {
    closeSync(fd);
  }
}

/** Remove from the scratch dir everything that could make the transfer read outside it. */
export function scrubScratchDir(dir: string, jobUid: number): ScrubReport {
  const report: ScrubReport = { removed: [], problems: [] };
  let fd: number;
  try {
    fd = openSync(dir, OPEN_DIR);
  } catch (e) {
    report.problems.push(`${dir}: cannot open the scratch dir (${errnoCode(e) ?? String(e)})`);
    return report;
  }
  try {
    scrubDir({ jobUid, seen: 0, report }, fd, '', 0);
  } finally {
    closeSync(fd);
  }
  return report;
}
