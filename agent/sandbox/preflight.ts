// Checks the wrapper makes, as the target account, just before execve. Node's process.execve
// cannot return: when the system call fails, Node aborts the process. So everything execve
// would refuse for (missing file, no permission, not a program, missing interpreter) is found
// here first and reported on the error channel with the errno execve would have given.
import { accessSync, constants, openSync, readSync, closeSync, statSync } from 'node:fs';
import { errnoCode } from '../../shared/errors.ts';

export type PreflightResult = { ok: true } | { ok: false; code: string; message: string };

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The ELF program interpreter (PT_INTERP) of a 64- or 32-bit little-endian ELF file, if any. */
export function elfInterpreter(path: string): string | null {
  const head = readHead(path, 64 * 1024);
  if (head.length < 52) return null;
  const is64 = head[4] === 2;
  if (head[5] !== 1) return null; // big-endian: leave it to the kernel
  const phoff = is64 ? Number(head.readBigUInt64LE(32)) : head.readUInt32LE(28);
  const phentsize = head.readUInt16LE(is64 ? 54 : 42);
  const phnum = head.readUInt16LE(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + phentsize > head.length) return null;
    if (head.readUInt32LE(off) !== 3) continue; // PT_INTERP
    const pOff = is64 ? Number(head.readBigUInt64LE(off + 8)) : head.readUInt32LE(off + 4);
    const pSize = is64 ? Number(head.readBigUInt64LE(off + 32)) : head.readUInt32LE(off + 16);
    const bytes = pOff + pSize <= head.length ? head.subarray(pOff, pOff + pSize) : readHead(path, pOff + pSize).subarray(pOff);
    return bytes.toString('latin1').replace(/\0.*$/s, '');
  }
  return null;
}

function checkProgram(path: string, what: string, depth: number): PreflightResult {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, code: 'EACCES', message: `${what} ${path} is not a regular file` };
    accessSync(path, constants.X_OK);
  } catch (e) {
    const code = errnoCode(e) ?? 'EIO';
    return { ok: false, code, message: `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code}` };
  }
  let head: Buffer;
  try {
    head = readHead(path, 256);
  } catch (e) {
    // Execute-only programs cannot be read; the kernel can still run them.
    if (errnoCode(e) === 'EACCES') return { ok: true };
    return { ok: false, code: errnoCode(e) ?? 'EIO', message: `${what} ${path}: cannot read` };
  }
  if (head.length >= 4 && head[0] === 0x7f && head.toString('latin1', 1, 4) === 'ELF') {
    let interp: string | null = null;
    try {
      interp = elfInterpreter(path);
    } catch {
      return { ok: true };
    }
    if (interp) {
      try {
        accessSync(interp, constants.X_OK);
      } catch (e) {
        return { ok: false, code: errnoCode(e) ?? 'ENOENT', message: `${what} ${path}: its ELF interpreter ${interp} is missing or not executable` };
      }
    }
    return { ok: true };
  }
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
    if (depth >= 4) return { ok: false, code: 'ELOOP', message: `${what} ${path}: too many levels of interpreters` };
    const line = head.toString('latin1', 2).split('\n')[0]!.trim();
    const interp = line.split(/[ \t]/)[0] ?? '';
    if (interp === '') return { ok: false, code: 'ENOEXEC', message: `${what} ${path}: empty '#!' line` };
    const r = checkProgram(interp, 'interpreter', depth + 1);
    if (!r.ok) return { ok: false, code: r.code, message: `${what} ${path}: ${r.message}` };
    return { ok: true };
  }
  // execve gives ENOEXEC; a shell would try it as a script, but execve does not.
  return { ok: false, code: 'ENOEXEC', message: `${what} ${path}: not an ELF program and no '#!' line` };
}

/** Would execve(path) succeed for the current identity? */
export function preflightExec(path: string): PreflightResult {
  return checkProgram(path, 'executable', 0);
}
