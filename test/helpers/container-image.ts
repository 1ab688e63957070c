// Container test images built by the tests themselves (issue 22; no download): a directory tree
// with Debian's static busybox and its applets. Skips, saying why, without bwrap or busybox-static.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findExecutable, skipWithout, skipWithoutTool } from './system-tools.ts';

const APPLETS = ['sh', 'true', 'id', 'ls', 'cat', 'echo', 'sleep', 'env', 'pwd', 'ps', 'test', 'tty', 'kill', 'grep', 'tr', 'head', 'dirname'];

function isStatic(p: string): boolean {
  try {
    // A dynamic busybox would need the host's libc inside the image.
    return !readFileSync(p).subarray(0, 65536).includes(Buffer.from('ld-linux'));
  } catch {
    return false;
  }
}

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => findExecutable(p) !== undefined && isStatic(p));

/** True (after printing why) when container tests must skip; a failure under GLIDEIN_TEST_REQUIRE_TOOLS. */
export function skipWithoutBwrap(): boolean {
  return skipWithoutTool('bwrap', 'install bubblewrap (apt-get install bubblewrap / dnf install bubblewrap)')
    || skipWithout('a static busybox', BUSYBOX !== undefined, 'install busybox-static (apt-get install busybox-static)')
    || skipWithout('bwrap with user namespaces', bwrapWorks(), 'enable unprivileged user namespaces (sysctl user.max_user_namespaces > 0; in a container, run it with them allowed)');
}

let works: boolean | undefined;
/** bwrap can make a user namespace here (a container may forbid it even to root). */
function bwrapWorks(): boolean {
  works ??= spawnSync(findExecutable('bwrap')!, ['--unshare-user', '--ro-bind', '/', '/', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return works;
}

/** A directory image at `dir`: /bin with busybox and its applets, /cvmfs as a mount point. */
export function buildBusyboxImage(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true, mode: 0o755 });
  copyFileSync(BUSYBOX!, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  mkdirSync(join(dir, 'cvmfs'), { mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}
