// Finding the HTCondor installation `glidein run --condor [DIR]` supervises (issue 14, item 1):
// DIR, then CONDOR_LOCATION, then PATH, then the OSG tarball on CVMFS. Its version is read
// with condor_version and checked; a missing or too old HTCondor is a configuration error
// (exit 2) naming every place that was looked at.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';

/** The oldest HTCondor this mode supports: IDTOKENS, TRUST_DOMAIN, STARTD_DETECT_GPUS, _CONDOR_CREDS. */
export const MIN_CONDOR_VERSION: readonly [number, number, number] = [24, 0, 0];

/** Where the OSG publishes HTCondor for glideins on CVMFS (the `current` link of the tarball tree). */
export const CVMFS_CONDOR_DIRS = ['/cvmfs/oasis.opensciencegrid.org/osg-software/htcondor/current'];

export interface CondorInstall {
  /** condor_master's path. */
  master: string;
  /** The directory holding condor_version, condor_reconfig, condor_status … */
  bin: string;
  /** The directory holding condor_master and the daemons. */
  sbin: string;
  /** The installation root (RELEASE_DIR), when there is one. */
  releaseDir: string | null;
  version: string;
  /** How it was found: 'flag', 'CONDOR_LOCATION', 'PATH' or 'cvmfs'. */
  source: string;
}

export interface DiscoverOptions {
  /** The DIR of `--condor DIR`. */
  dir?: string | undefined;
  env: NodeJS.ProcessEnv;
  cvmfsDirs?: readonly string[];
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The install rooted at `root` (root/sbin/condor_master and root/bin/condor_version), or null. */
function fromRoot(root: string, source: string): Omit<CondorInstall, 'version'> | null {
  const master = join(root, 'sbin', 'condor_master');
  const version = join(root, 'bin', 'condor_version');
  if (!executable(master) || !executable(version)) return null;
  return { master, bin: join(root, 'bin'), sbin: join(root, 'sbin'), releaseDir: root, source };
}

/** condor_master and condor_version on PATH (they may live in separate sbin and bin dirs). */
function fromPath(pathVar: string | undefined): Omit<CondorInstall, 'version'> | null {
  const dirs = (pathVar ?? '').split(delimiter).filter((d) => d.startsWith('/'));
  const master = dirs.map((d) => join(d, 'condor_master')).find(executable);
  const version = dirs.map((d) => join(d, 'condor_version')).find(executable);
  if (!master || !version) return null;
  const sbin = dirname(master);
  const bin = dirname(version);
  const root = dirname(sbin);
  return { master, bin, sbin, releaseDir: root === dirname(bin) && root !== '/' && root !== '/usr' ? root : null, source: 'PATH' };
}

/** Parse `$CondorVersion: 25.14.0 2026-08-21 BuildID: … $` into its version string. */
export function parseCondorVersion(output: string): string | null {
  const m = /\$CondorVersion:\s+(\d+)\.(\d+)\.(\d+)/.exec(output);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

export function versionAtLeast(version: string, min: readonly [number, number, number]): boolean {
  const v = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0;
    if (a !== min[i]) return a > min[i]!;
  }
  return true;
}

function runVersion(bin: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own config would be read otherwise: an empty CONDOR_CONFIG keeps it from touching /etc.
    execFile(join(bin, 'condor_version'), [], { timeout: 15_000, env: { PATH: env['PATH'] ?? '/usr/bin:/bin', CONDOR_CONFIG: '/dev/null' } }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

/** Find HTCondor and check its version; throws GLIDEIN_ERR_CONFIG (exit 2) when none fits. */
export async function discoverCondor(o: DiscoverOptions): Promise<CondorInstall> {
  const looked: string[] = [];
  const candidates: (() => Omit<CondorInstall, 'version'> | null)[] = [];
  if (o.dir !== undefined) {
    looked.push(`--condor ${o.dir} (expected sbin/condor_master and bin/condor_version there)`);
    candidates.push(() => fromRoot(o.dir!, 'flag'));
  } else {
    const loc = o.env['CONDOR_LOCATION'];
    if (loc) {
      looked.push(`CONDOR_LOCATION=${loc}`);
      candidates.push(() => fromRoot(loc, 'CONDOR_LOCATION'));
    }
    looked.push('PATH');
    candidates.push(() => fromPath(o.env['PATH']));
    for (const d of o.cvmfsDirs ?? CVMFS_CONDOR_DIRS) {
      looked.push(d);
      candidates.push(() => fromRoot(d, 'cvmfs'));
    }
  }
  for (const find of candidates) {
    const found = find();
    if (!found) continue;
    let out: string;
    try {
      out = await runVersion(found.bin, o.env);
    } catch (e) {
      throw new GlideinError('GLIDEIN_ERR_CONFIG', `--condor: ${join(found.bin, 'condor_version')} failed: ${(e as Error).message}`, { cause: e });
    }
    const version = parseCondorVersion(out);
    if (!version) throw new GlideinError('GLIDEIN_ERR_CONFIG', `--condor: cannot read a version from ${join(found.bin, 'condor_version')} (expected '$CondorVersion: X.Y.Z …')`);
    if (!versionAtLeast(version, MIN_CONDOR_VERSION)) {
      throw new GlideinError('GLIDEIN_ERR_CONFIG', `--condor: HTCondor ${version} at ${found.sbin} is too old; ${MIN_CONDOR_VERSION.join('.')} or newer is needed`);
    }
    return { ...found, version };
  }
  throw new GlideinError('GLIDEIN_ERR_CONFIG', `--condor: no HTCondor found (looked at ${looked.join('; ')}); give its installation directory as --condor DIR`);
}
