// Disk facts: free space in the work directory (statfs) and whether the temporary directory
// accepts a new directory (GlideinWMS's "Cannot create a dir in /tmp" check).
import { statfs, mkdtemp, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from '../host.ts';

export interface DiskFacts {
  workdir: string;
  /** Bytes available to an unprivileged writer in the work dir's file system, or null. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** Why statfs failed, if it did. */
  workdirError: string | null;
  tmpDir: string;
  tmpWritable: boolean;
  tmpError: string | null;
}

export async function collectDiskFacts(host: Host, workdir: string): Promise<DiskFacts> {
  const [space, tmp] = await Promise.all([
    statfs(workdir).then(
      (s) => ({ free: s.bavail * s.bsize, total: s.blocks * s.bsize, error: null }),
      (e: Error) => ({ free: null, total: null, error: e.message }),
    ),
    mkdtemp(join(host.tmpDir, 'glidein-validate-')).then(
      async (dir) => {
        await rmdir(dir).catch(() => undefined);
        return { ok: true, error: null };
      },
      (e: Error) => ({ ok: false, error: e.message }),
    ),
  ]);
  return {
    workdir,
    freeBytes: space.free,
    totalBytes: space.total,
    workdirError: space.error,
    tmpDir: host.tmpDir,
    tmpWritable: tmp.ok,
    tmpError: tmp.error,
  };
}
