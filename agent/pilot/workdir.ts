// Work directory selection like GlideinWMS's AUTO mode: the first candidate that exists, is a
// writable directory and has enough free space; the pilot then works in a private subdirectory.
import { accessSync, constants, mkdtempSync, statSync, statfsSync, chmodSync } from 'node:fs';
import { join, isAbsolute } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';

/** GlideinWMS default minimum free space in the work dir (about 1 GB). */
export const DEFAULT_MIN_FREE_BYTES = 1_000_000_000;

/** Candidate variables in GlideinWMS AUTO order (glidein_startup.sh), then the fallbacks. */
/** Prefix of a pilot's private work dir inside the base (dead pilots' dirs are found by it). */
export const WORKDIR_PREFIX = 'glide_';

export const WORKDIR_ENV_CANDIDATES = ['_CONDOR_SCRATCH_DIR', 'OSG_WN_TMP', 'TG_NODE_SCRATCH', 'TG_CLUSTER_SCRATCH', 'SCRATCH', 'TMPDIR', 'TMP', 'PWD'] as const;

export interface WorkdirChoice {
  /** The chosen base directory. */
  base: string;
  /** Where it came from (`--workdir`, an env variable name, or `/tmp`). */
  source: string;
  /** The pilot's private directory inside base (created 0711: job accounts may traverse, not list). */
  dir: string;
}

export interface WorkdirOptions {
  flag?: string | undefined;
  env: NodeJS.ProcessEnv;
  minFreeBytes?: number;
  /** Prefix of the private directory's name. */
  prefix?: string;
}

function problem(path: string, minFree: number): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'does not exist';
  }
  if (!st.isDirectory()) return 'is not a directory';
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    return 'is not writable';
  }
  try {
    const fs = statfsSync(path);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < minFree) return `has ${free} bytes free, less than the ${minFree} needed`;
  } catch {
    return 'free space cannot be read';
  }
  return undefined;
}

/** Pick the work dir; `--workdir` must be usable (exit 2 otherwise); the environment candidates fall through. */
export function selectWorkdir(options: WorkdirOptions): WorkdirChoice {
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  const prefix = options.prefix ?? WORKDIR_PREFIX;
  let base: string | undefined;
  let source = '';
  if (options.flag !== undefined) {
    if (options.flag.length === 0) throw new GlideinError('GLIDEIN_ERR_USAGE', 'run: --workdir is empty');
    const why = problem(options.flag, minFree);
    if (why) throw new GlideinError('GLIDEIN_ERR_CONFIG', `run: --workdir ${options.flag} ${why}`);
    base = options.flag;
    source = '--workdir';
  } else {
    const tried: string[] = [];
    for (const name of WORKDIR_ENV_CANDIDATES) {
      const v = options.env[name];
      if (!v || !isAbsolute(v)) continue;
      const why = problem(v, minFree);
      if (!why) {
        base = v;
        source = name;
        break;
      }
      tried.push(`${name}=${v} ${why}`);
    }
    if (base === undefined) {
      const why = problem('/tmp', minFree);
      if (why) throw new GlideinError('GLIDEIN_ERR_CONFIG', `run: no usable work dir (${[...tried, `/tmp ${why}`].join('; ')}); use --workdir`);
      base = '/tmp';
      source = '/tmp';
    }
  }
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o711);
  return { base, source, dir };
}
