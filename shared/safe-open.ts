// The one way glidein reads a file named by a path (issue 26 item 1): job specs, policies,
// mapfiles, JWKS files, service configs, keys, certificates, tokens. The file is opened once
// with O_NONBLOCK (a FIFO can never block the open or the read), O_NOCTTY, and O_NOFOLLOW where
// a symlink is not expected; every check is an fstat of that descriptor, so the file checked is
// the file read; and the read is bounded (the file may grow after fstat; /dev/zero never ends).
// Every refusal is a GlideinError with the caller's code, naming the file and what it is.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { GlideinError, errnoCode, type ErrorCode } from './errors.ts';

export interface SafeOpenOptions {
  /** What the file is, for messages: "policy file", "signing key file", "--tls-cert". */
  what: string;
  /** The error code of every refusal (e.g. GLIDEIN_ERR_POLICY: exit 2). */
  code: ErrorCode;
  maxBytes: number;
  /** Refuse a symbolic link (credential files: a symlink is never expected there). */
  noFollow?: boolean;
  /** Refuse group/other permission bits (HTCondor's rule for key and token files). */
  privateMode?: boolean;
  /** The uids that may own the file (unset: any). */
  owners?: readonly number[];
  /** Refuse an empty file. */
  nonEmpty?: boolean;
  /** The code for an ownership/mode refusal when it differs from `code` (the store's STORE_UNSAFE). */
  unsafeCode?: ErrorCode;
}

/** Why a file was refused, kept in the error's details for callers that map it (spool, HTCondor job tokens). */
export type SafeOpenProblem = 'missing' | 'symlink' | 'not-regular' | 'too-large' | 'empty' | 'owner' | 'mode' | 'unreadable';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** "a FIFO", "a directory", … : what a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function refuse(path: string, o: SafeOpenOptions, problem: SafeOpenProblem, text: string, extra: { cause?: unknown; errno?: string; code?: ErrorCode } = {}): GlideinError {
  return new GlideinError(extra.code ?? o.code, `${o.what} ${path} ${text}`, {
    ...(extra.cause === undefined ? {} : { cause: extra.cause }),
    details: { path, problem, ...(extra.errno ? { errno: extra.errno } : {}) },
  });
}

function openFailure(path: string, o: SafeOpenOptions, cause: unknown): GlideinError {
  const errno = errnoCode(cause);
  if (errno === 'ENOENT') return refuse(path, o, 'missing', 'does not exist (ENOENT)', { cause, errno });
  if (errno === 'ELOOP' && o.noFollow) return refuse(path, o, 'symlink', 'is a symbolic link; expected a regular file (symbolic links are not followed here)', { cause, errno });
  // open() of a socket fails with ENXIO: say what the path is instead.
  if (errno === 'ENXIO' || errno === 'EOPNOTSUPP') {
    try {
      const st = statSync(path);
      if (!st.isFile()) return refuse(path, o, 'not-regular', `is ${fileKind(st)}; expected a regular file`, { cause, errno });
    } catch {
      /* fall through to the errno */
    }
  }
  const why = errno === 'EACCES' || errno === 'EPERM' ? `is not readable by this account (${errno})` : `cannot be opened (${errno ?? String(cause)})`;
  return refuse(path, o, 'unreadable', why, { cause, ...(errno ? { errno } : {}) });
}

function statProblem(path: string, st: Stats, o: SafeOpenOptions): GlideinError | null {
  if (!st.isFile()) return refuse(path, o, 'not-regular', `is ${fileKind(st)}; expected a regular file`);
  const unsafe = o.unsafeCode ? { code: o.unsafeCode } : {};
  if (o.owners && !o.owners.includes(st.uid)) return refuse(path, o, 'owner', `is owned by uid ${st.uid}; expected uid ${o.owners.join(' or ')}`, unsafe);
  if (o.privateMode && (st.mode & 0o077) !== 0) {
    return refuse(path, o, 'mode', `has mode 0${(st.mode & 0o777).toString(8)}; group/other permission bits are not allowed (expected 0600 or stricter)`, unsafe);
  }
  if (st.size > o.maxBytes) return refuse(path, o, 'too-large', `is larger than ${o.maxBytes} bytes`);
  return null;
}

function contentProblem(path: string, bytes: Buffer, o: SafeOpenOptions): GlideinError | null {
  if (bytes.length > o.maxBytes) return refuse(path, o, 'too-large', `is larger than ${o.maxBytes} bytes`);
  if (o.nonEmpty && bytes.length === 0) return refuse(path, o, 'empty', 'is empty');
  return null;
}

const flagsFor = (o: SafeOpenOptions) => OPEN_FLAGS | (o.noFollow ? constants.O_NOFOLLOW : 0);
const CHUNK = 64 * 1024;

/** Read the file at `path` under the rules above; throws a GlideinError with `o.code`. */
export async function readFileSafely(path: string, o: SafeOpenOptions): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, flagsFor(o));
  } catch (cause) {
    throw openFailure(path, o, cause);
  }
  try {
    const problem = statProblem(path, await fh.stat(), o);
    if (problem) throw problem;
    const chunks: Buffer[] = [];
    let got = 0;
    while (got <= o.maxBytes) {
      const chunk = nextChunk(got, o);
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, got).catch((cause: unknown) => {
        throw unreadable(path, o, cause);
      });
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      got += bytesRead;
    }
    return checkedContent(path, chunks, got, o);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

// The bounded read loop's pieces, shared by the async and the sync reader: reading one byte past
// maxBytes is how an over-long file is seen, so a chunk never asks for more than that.
function nextChunk(got: number, o: SafeOpenOptions): Buffer {
  return Buffer.alloc(Math.min(CHUNK, o.maxBytes + 1 - got));
}

function unreadable(path: string, o: SafeOpenOptions, cause: unknown): Error {
  return refuse(path, o, 'unreadable', `cannot be read (${errnoCode(cause) ?? String(cause)})`, { cause });
}

function checkedContent(path: string, chunks: Buffer[], got: number, o: SafeOpenOptions): Buffer {
  const bytes = Buffer.concat(chunks, got);
  const after = contentProblem(path, bytes, o);
  if (after) throw after;
  return bytes;
}

/** The same, synchronously (start-up paths and HTCondor hooks that are synchronous). */
export function readFileSafelySync(path: string, o: SafeOpenOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, flagsFor(o));
  } catch (cause) {
    throw openFailure(path, o, cause);
  }
  try {
    const problem = statProblem(path, fstatSync(fd), o);
    if (problem) throw problem;
    const chunks: Buffer[] = [];
    let got = 0;
    while (got <= o.maxBytes) {
      const chunk = nextChunk(got, o);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, got);
      } catch (cause) {
        throw unreadable(path, o, cause);
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      got += n;
    }
    return checkedContent(path, chunks, got, o);
  } finally {
    closeSync(fd);
  }
}

/** The problem a refusal from this module carries (for callers that turn it into their own value). */
export function safeOpenProblem(e: unknown): SafeOpenProblem | undefined {
  if (!(e instanceof GlideinError)) return undefined;
  const p = e.details?.['problem'];
  return typeof p === 'string' ? (p as SafeOpenProblem) : undefined;
}
