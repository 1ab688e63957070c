// Reading one spool spec without trusting its path (issue 11 item 8). Whoever can write the spool
// can swap `x.json` between a check and a read: a FIFO would block the agent's event loop
// (refreshes, kills, wallclock limits), a symlink or hard link would make a root agent read any
// file. So the file is opened once with O_NOFOLLOW|O_NONBLOCK, every check is an fstat of that
// descriptor, and the read from it is bounded. No byte of a refused file reaches a message.
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { errnoCode } from '../../shared/errors.ts';
import { MAX_JOB_SPEC_BYTES } from '../sandbox/job-spec.ts';

export type SpecRead = { kind: 'spec'; value: unknown } | { kind: 'gone' } | { kind: 'refused'; message: string };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Read at most maxBytes + 1 bytes from the descriptor (the file may grow after fstat). */
async function readBounded(fh: FileHandle, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got <= maxBytes) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - got));
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, got);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    got += bytesRead;
  }
  return Buffer.concat(chunks, got);
}

function refusal(st: Stats, maxBytes: number): string | null {
  if (!st.isFile()) return `is ${fileKind(st)}; a spec must be a regular file`;
  // A second name means the file was linked in from elsewhere: perhaps a file the writer could not read.
  if (st.nlink !== 1) return `has ${st.nlink} hard links; a spec must have exactly one`;
  if (st.size > maxBytes) return `is larger than ${maxBytes} bytes`;
  return null;
}

/** The parsed spec at `path`, `gone` when it vanished first, or why it was refused (no content). */
export async function readSpecFile(path: string, maxBytes = MAX_JOB_SPEC_BYTES): Promise<SpecRead> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, OPEN_FLAGS);
  } catch (e) {
    const errno = errnoCode(e);
    if (errno === 'ENOENT') return { kind: 'gone' };
    if (errno === 'ELOOP') return { kind: 'refused', message: `${path} is a symbolic link; a spec must be a regular file` };
    return { kind: 'refused', message: `${path} cannot be opened (${errno ?? 'error'})` };
  }
  try {
    const problem = refusal(await fh.stat(), maxBytes);
    if (problem) return { kind: 'refused', message: `${path} ${problem}` };
    const bytes = await readBounded(fh, maxBytes);
    if (bytes.length > maxBytes) return { kind: 'refused', message: `${path} is larger than ${maxBytes} bytes` };
    try {
      return { kind: 'spec', value: JSON.parse(bytes.toString('utf8')) };
    } catch {
      // SyntaxError messages quote the text: never pass them on.
      return { kind: 'refused', message: `${path} is not valid JSON` };
    }
  } catch (e) {
    return { kind: 'refused', message: `${path} cannot be read (${errnoCode(e) ?? 'error'})` };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
