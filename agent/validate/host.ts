// Where validation reads the machine from. Every path, the environment, PATH and the clocks are
// injectable so fixture trees (test/fixtures/validate) drive exactly the code a real node runs.
import { readFile, access, stat, constants } from 'node:fs/promises';
import { join, isAbsolute, delimiter } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';

export interface HostOptions {
  /** Default `/proc`. */
  procRoot?: string;
  /** Default `/sys`. */
  sysRoot?: string;
  /** Default `/etc` (os-release, group). */
  etcRoot?: string;
  /** Default `/cvmfs`. */
  cvmfsRoot?: string;
  /** The directory that must be writable. Default `/tmp`. */
  tmpDir?: string;
  /** Default `process.env`; PATH and the batch-system variables come from here. */
  env?: NodeJS.ProcessEnv;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Wall clock. Default `new Date()`. */
  clock?: () => Date;
}

export interface Host {
  procRoot: string;
  sysRoot: string;
  etcRoot: string;
  cvmfsRoot: string;
  tmpDir: string;
  env: NodeJS.ProcessEnv;
  now: () => number;
  clock: () => Date;
}

export function resolveHost(options: HostOptions = {}): Host {
  return {
    procRoot: options.procRoot ?? '/proc',
    sysRoot: options.sysRoot ?? '/sys',
    etcRoot: options.etcRoot ?? '/etc',
    cvmfsRoot: options.cvmfsRoot ?? '/cvmfs',
    tmpDir: options.tmpDir ?? '/tmp',
    env: options.env ?? process.env,
    now: options.now ?? (() => performance.now()),
    clock: options.clock ?? (() => new Date()),
  };
}

/** A text file's content, or undefined when it does not exist or cannot be read. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM' || code === 'EINVAL') return undefined;
    throw e;
  }
}

/** The first executable named `name` on the host's PATH (absolute entries only: `.` is never searched). */
export async function findOnPath(name: string, host: Host): Promise<string | undefined> {
  const dirs = (host.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** A regular file this process may execute (root passes access(X_OK) for directories too). */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
