// A tiny tmpfs for tests of a full disk (issue 26 item 2): mounted on a fresh temporary dir,
// root only; `why` says why there is none, for skipWithout.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IS_ROOT } from './accounts.ts';

export interface SmallTmpfs {
  /** The mount point; undefined when none could be mounted. */
  dir: string | undefined;
  why: string;
  /** Write until the file system is full (the write that hits ENOSPC is the last). */
  fill(name?: string): Promise<string>;
  /** Remount with a smaller size (at least what is in use): a process may check free space first. */
  shrink(size: string): void;
  unmount(): Promise<void>;
}

export async function mountSmallTmpfs(size = '512k'): Promise<SmallTmpfs> {
  const mnt = await mkdtemp(join(tmpdir(), 'glidein-tmpfs-'));
  let mounted = false;
  let why = '';
  if (!IS_ROOT) why = 'mounting a tmpfs needs root';
  else {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch (e) {
      why = `mount -t tmpfs failed: ${(e as Error).message}`;
    }
  }
  return {
    dir: mounted ? mnt : undefined,
    why,
    async fill(name = 'filler') {
      const path = join(mnt, name);
      const e = await writeFile(path, Buffer.alloc(64 * 1024 * 1024)).then(() => undefined, (err: NodeJS.ErrnoException) => err);
      if (e?.code !== 'ENOSPC') throw new Error(`filling ${mnt}: expected ENOSPC, got ${e?.code ?? 'no error'}`);
      return path;
    },
    shrink(size) {
      execFileSync('mount', ['-o', `remount,size=${size}`, mnt], { stdio: 'pipe' });
    },
    async unmount() {
      if (mounted) execFileSync('umount', ['-l', mnt]);
      await rm(mnt, { recursive: true, force: true });
    },
  };
}
