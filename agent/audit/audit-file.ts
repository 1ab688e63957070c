// The audit file (issue 25): append-only, owned by the agent's account (root in setuid mode, so
// that no payload can alter it), mode 0600 when made here, in a directory nobody else may write.
// Each record is one write(2) on an O_APPEND descriptor (the kernel puts it at the end, whole,
// even with several writers: pilots, HTCondor job wrappers), then fdatasync: a record the agent
// counted as written survives a crash of the node. A file or directory that others could alter
// is refused, not written: a record in it would prove nothing.
import { constants, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';

const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/** Why the file's directory cannot hold audit records (made, 0700, when missing), or null. */
async function directoryProblem(dir: string): Promise<string | null> {
  let st;
  try {
    st = await fsp.lstat(dir);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') return `cannot stat its directory ${dir} (${errnoCode(e) ?? String(e)})`;
    try {
      await fsp.mkdir(dir, { mode: 0o700 });
      return null;
    } catch (e2) {
      return `cannot make its directory ${dir} (${errnoCode(e2) ?? String(e2)})`;
    }
  }
  if (!st.isDirectory()) return `its directory ${dir} is not a directory`;
  if (st.uid !== euid() && st.uid !== 0) return `its directory ${dir} is owned by uid ${st.uid}, not by root or this agent (uid ${euid()})`;
  if ((st.mode & 0o022) !== 0) return `its directory ${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): they could replace the file`;
  return null;
}

/** Open the file for appending, checked; a descriptor, or why not. */
async function openChecked(path: string): Promise<fsp.FileHandle | string> {
  const dirProblem = await directoryProblem(dirname(path));
  if (dirProblem) return dirProblem;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, OPEN_FLAGS, 0o600);
  } catch (e) {
    const code = errnoCode(e);
    return code === 'ELOOP' ? 'is a symbolic link (not followed)' : `cannot be opened for appending (${code ?? String(e)})`;
  }
  const st = await fh.stat();
  const problem = !st.isFile() ? 'is not a regular file'
    : st.uid !== euid() ? `is owned by uid ${st.uid}, not by this agent (uid ${euid()})`
    : (st.mode & 0o022) !== 0 ? `is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`
    : null;
  if (problem === null) return fh;
  await fh.close();
  return problem;
}

/** Append one line (a newline is added); null when written and synced, else why not. */
export async function appendAuditLine(path: string, line: string): Promise<string | null> {
  const fh = await openChecked(path);
  if (typeof fh === 'string') return `audit file ${path} ${fh}`;
  try {
    const buf = Buffer.from(`${line}\n`);
    const { bytesWritten } = await fh.write(buf, 0, buf.length);
    // A short write to a regular file means a full disk: say so rather than leave half a record hidden.
    if (bytesWritten !== buf.length) return `audit file ${path}: short write (${bytesWritten} of ${buf.length} bytes; disk full?)`;
    await fh.datasync();
    return null;
  } catch (e) {
    return `audit file ${path}: cannot write (${errnoCode(e) ?? String(e)})`;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Whether a record could be appended now (the `required` check before a job starts): null, or why not. */
export async function auditFileProblem(path: string): Promise<string | null> {
  const fh = await openChecked(path);
  if (typeof fh === 'string') return `audit file ${path} ${fh}`;
  await fh.close();
  return null;
}
