// Descriptors a glidein process inherited from whoever started it (issue 11, item 5). libuv opens
// everything of its own close-on-exec, so a descriptor >= 3 without FD_CLOEXEC can only have
// come from the parent (a batch system, a shell's `exec 251<file`); it would pass through every
// spawn and the wrapper's execve into payloads of other accounts. Node has no fcntl, but
// /proc/self/fdinfo shows each descriptor's flags, close-on-exec included: such descriptors
// are closed at start, before anything else opens a file. One exception: the files V8 opens for
// profiling (`node --perf-basic-prof`: its perf map and its log) have no close-on-exec; closing
// them would let V8 write into whatever file next took that number (a signing key, once).
import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

/**
 * Whether descriptor `name` is a file V8 itself opened for this process when profiling
 * (`--perf-basic-prof`: /tmp/perf-<pid>.map and its log isolate-0x…-<pid>-v8.log), not inherited.
 */
function isV8Own(fdinfo: string, name: string): boolean {
  let target: string;
  try {
    target = readlinkSync(`${fdinfo.replace(/fdinfo$/, 'fd')}/${name}`);
  } catch {
    return false;
  }
  const base = target.slice(target.lastIndexOf('/') + 1);
  return base === `perf-${process.pid}.map` || new RegExp(`^isolate-0x[0-9a-f]+-${process.pid}-(?:\\d+-)?v8\\.log$`).test(base);
}

/** Close every inherited descriptor >= 3 that would survive execve; returns the ones closed. */
export function closeInheritedDescriptors(fdinfo = '/proc/self/fdinfo'): number[] {
  let names: string[];
  try {
    names = readdirSync(fdinfo);
  } catch {
    return []; // no /proc: nothing to learn, nothing to do
  }
  // A Node IPC channel (child_process.fork) is the one inherited descriptor Node itself uses.
  const keep = Number(process.env['NODE_CHANNEL_FD'] ?? -1);
  const closed: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < 3 || fd === keep) continue;
    let flags: number;
    try {
      // fdinfo is ASCII; 'utf8' takes Node's one-call fast path ('latin1' costs about 1 ms of a start).
      const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`${fdinfo}/${name}`, 'utf8'));
      if (!m) continue;
      flags = parseInt(m[1]!, 8);
    } catch {
      continue; // the directory listing's own descriptor, gone already
    }
    if (flags & O_CLOEXEC || isV8Own(fdinfo, name)) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      /* closed meanwhile */
    }
  }
  return closed;
}
