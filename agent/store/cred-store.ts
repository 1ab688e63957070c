// The pilot's protected credential store under <workdir>/cred.d (DESIGN.md section 8):
//   cred.d/           0711 pilot   search-only, so a mapped account can reach its own job dir
//   cred.d/pilot/     0700 pilot   refresh token, DPoP private key, S-CRED
//   cred.d/idtokens/  0700 pilot   HTCondor SEC_TOKEN_DIRECTORY: one JWT + '\n' per file, 0600
//   cred.d/jobs/      0711 pilot   search-only: a payload can open jobs/<its id>/ but list nothing
//   cred.d/jobs/<id>/ 0700 mapped  one payload's J-CRED files, 0600, owned by the mapped account
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { GlideinError, errnoCode } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { silentLogger } from '../../shared/log.ts';
import { decodeJwtUnverified, jwtExpiry } from '../../shared/jwt-decode.ts';
import { assertCanOwn, atomicWriteFile, fsyncDir, isTempName } from './atomic-write.ts';
import type { Owner } from './atomic-write.ts';
import { safeReadFile } from './safe-read.ts';
import { checkName } from './names.ts';
import { ExpiryIndex } from './expiry-index.ts';
import { removeTree } from './remove-tree.ts';
import type { ExpiryTimers } from './expiry-index.ts';

export interface CredStoreOptions {
  log?: Logger;
  /** Unix seconds; default Date.now()/1000. */
  now?: () => number;
  /** Timers for the expiry index (tests); default the global setTimeout/clearTimeout. */
  timers?: ExpiryTimers;
}

// HTCondor skips token files whose names match LOCAL_CONFIG_DIR_EXCLUDE_REGEXP; its default is
// this pattern (HTCondor 25, src/condor_utils/param_info.in). Our temp files start with '.', so a reader never sees a half-written token.
export const CONDOR_EXCLUDED_NAME = /^((\..*)|(.*\.pl)|(.*\.py)|(.*\.sh)|(.*~)|(#.*)|(.*\.rpmsave)|(.*\.rpmnew)|(.*\.dpkg-old)|(.*\.dpkg-dist)|(.*\.cfsaved))$/;

export const STORE_DIR_MODES = { root: 0o711, pilot: 0o700, idtokens: 0o700, jobs: 0o711, job: 0o700 } as const;

const euid = (): number => process.geteuid?.() ?? -1;
const egid = (): number => process.getegid?.() ?? -1;

function io(path: string, action: string, cause: unknown): GlideinError {
  const errno = errnoCode(cause);
  return new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: cannot ${action} (${errno ?? String(cause)})`, { cause, details: { path, errno } });
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw io(path, 'stat', e);
  }
}

/**
 * Make `path` a real directory with exactly `mode`, owned by `owner` (default: us). An existing
 * symlink or non-directory in its place is refused, never followed or replaced.
 */
async function ensureDir(path: string, mode: number, owner?: Owner): Promise<void> {
  let st = await lstatOrUndefined(path);
  if (!st) {
    try {
      await fsp.mkdir(path, { mode: 0o700 });
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw io(path, 'create the directory', e);
    }
    st = await lstatOrUndefined(path);
  }
  if (!st) throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${path}: directory vanished while it was created`);
  if (st.isSymbolicLink()) throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${path}: is a symlink; the store's directories must be real directories`, { details: { path } });
  if (!st.isDirectory()) throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${path}: is not a directory`, { details: { path } });
  // The entry was checked above and its parent is ours and not writable by others, so the
  // path still names that directory: chown/chmod by path cannot be redirected.
  const want = owner ?? { uid: euid(), gid: egid() };
  // Never adopt a directory someone else made: they may hold it open or have planted entries.
  if (st.uid !== euid() && st.uid !== want.uid) {
    throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${path}: is owned by uid ${st.uid}, expected uid ${want.uid}; refusing to take it over`, {
      details: { path, uid: st.uid, expectedUid: want.uid },
    });
  }
  try {
    if (st.uid !== want.uid || st.gid !== want.gid) await fsp.chown(path, want.uid, want.gid);
    if ((st.mode & 0o7777) !== mode) await fsp.chmod(path, mode);
  } catch (e) {
    throw io(path, `set owner ${want.uid}:${want.gid} and mode 0${mode.toString(8)}`, e);
  }
}

/**
 * The work dir's owner could rename cred.d away and put something else in its place, and so
 * could anyone allowed to write to it (unless the sticky bit protects our entries).
 */
async function assertSafeWorkdir(dir: string): Promise<void> {
  let st: Stats;
  try {
    st = await fsp.stat(dir);
  } catch (e) {
    throw io(dir, 'stat the work directory', e);
  }
  if (!st.isDirectory()) throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${dir}: the work directory is not a directory`, { details: { path: dir } });
  if (st.uid !== euid() && st.uid !== 0) {
    throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${dir}: the work directory is owned by uid ${st.uid}; it must belong to this process (uid ${euid()}) or root`, {
      details: { path: dir, uid: st.uid },
    });
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${dir}: the work directory is writable by group or others (mode 0${(st.mode & 0o7777).toString(8)}) without the sticky bit`, {
      details: { path: dir, mode: st.mode & 0o7777 },
    });
  }
}

export class CredStore {
  readonly root: string;
  readonly pilotDir: string;
  readonly idtokenDir: string;
  readonly jobsDir: string;
  readonly expiry: ExpiryIndex;
  readonly #log: Logger;
  #wiped = false;

  private constructor(root: string, log: Logger, expiry: ExpiryIndex) {
    this.root = root;
    this.pilotDir = join(root, 'pilot');
    this.idtokenDir = join(root, 'idtokens');
    this.jobsDir = join(root, 'jobs');
    this.#log = log;
    this.expiry = expiry;
  }

  /**
   * Open (creating if needed) `<workdir>/cred.d`, fix the modes and owners of its directories,
   * refuse symlinks in their place, and remove temp files a crashed writer left behind.
   */
  static async open(workdir: string, options: CredStoreOptions = {}): Promise<CredStore> {
    let real: string;
    try {
      real = await fsp.realpath(workdir);
    } catch (e) {
      throw io(workdir, 'resolve the work directory', e);
    }
    await assertSafeWorkdir(real);
    const log = (options.log ?? silentLogger).child({ component: 'cred-store' });
    const expiry = new ExpiryIndex({ log, ...(options.now ? { now: options.now } : {}), ...(options.timers ? { timers: options.timers } : {}) });
    const store = new CredStore(join(real, 'cred.d'), log, expiry);
    await ensureDir(store.root, STORE_DIR_MODES.root);
    await ensureDir(store.pilotDir, STORE_DIR_MODES.pilot);
    await ensureDir(store.idtokenDir, STORE_DIR_MODES.idtokens);
    await ensureDir(store.jobsDir, STORE_DIR_MODES.jobs);
    await store.#removeStaleTemps();
    return store;
  }

  async #removeStaleTemps(): Promise<void> {
    const dirs = [this.pilotDir, this.idtokenDir];
    for (const d of await fsp.readdir(this.jobsDir, { withFileTypes: true })) {
      if (d.isDirectory()) dirs.push(join(this.jobsDir, d.name));
    }
    for (const dir of dirs) {
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
        if (isTempName(name)) await fsp.unlink(join(dir, name)).catch(() => undefined);
      }
    }
  }

  #assertOpen(): void {
    if (this.#wiped) throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${this.root}: the store was wiped; open it again to store credentials`);
  }

  /** The path of a pilot credential (the name is checked). */
  pilotPath(name: string): string {
    return join(this.pilotDir, checkName('credential', name));
  }

  /** The path of a job's private directory (the id is checked). */
  jobDir(jobId: string): string {
    return join(this.jobsDir, checkName('job', jobId));
  }

  /** Store a pilot credential (refresh token, DPoP key, S-CRED …) as cred.d/pilot/<name>, 0600. */
  async writePilot(name: string, data: string | Uint8Array, expiresAt: number | null): Promise<string> {
    this.#assertOpen();
    const path = this.pilotPath(name);
    await atomicWriteFile(path, data, { mode: 0o600 });
    this.expiry.set(`pilot/${name}`, expiresAt);
    this.#log.debug('credential stored', { storePath: `pilot/${name}`, expiresAt });
    return path;
  }

  async readPilot(name: string): Promise<Buffer> {
    return safeReadFile(this.pilotPath(name));
  }

  /**
   * Store one HTCondor IDTOKEN as cred.d/idtokens/<name>: exactly the JWT and '\n', 0600, owned
   * by this process (the startd that reads the directory runs as the pilot). Expiry from `exp`.
   */
  async writeIdtoken(name: string, jwt: string): Promise<string> {
    this.#assertOpen();
    checkName('credential', name);
    if (CONDOR_EXCLUDED_NAME.test(name)) {
      throw new GlideinError('GLIDEIN_ERR_STORE_NAME', `credential name ${JSON.stringify(name)} would be skipped by HTCondor (LOCAL_CONFIG_DIR_EXCLUDE_REGEXP)`);
    }
    if (typeof jwt !== 'string' || /\s/.test(jwt)) {
      throw new GlideinError('GLIDEIN_ERR_TOKEN_MALFORMED', `IDTOKEN ${name}: expected one compact JWT with no whitespace`);
    }
    decodeJwtUnverified(jwt);
    const expiresAt = jwtExpiry(jwt);
    const path = join(this.idtokenDir, name);
    await atomicWriteFile(path, jwt + '\n', { mode: 0o600 });
    this.expiry.set(`idtokens/${name}`, expiresAt);
    this.#log.debug('idtoken stored', { storePath: `idtokens/${name}`, expiresAt });
    return path;
  }

  async readIdtoken(name: string): Promise<string> {
    return (await safeReadFile(join(this.idtokenDir, checkName('credential', name)))).toString('utf8').trimEnd();
  }

  /** Create (or fix) cred.d/jobs/<id>: 0700, owned by `owner` (default: us). Returns its path. */
  async createJobDir(jobId: string, owner?: Owner): Promise<string> {
    this.#assertOpen();
    const dir = this.jobDir(jobId);
    if (owner) assertCanOwn(dir, owner);
    await ensureDir(dir, STORE_DIR_MODES.job, owner);
    await fsyncDir(this.jobsDir);
    return dir;
  }

  /**
   * Store a J-CRED as cred.d/jobs/<id>/<name>, 0600, owned by `owner` — by default the job
   * dir's owner (createJobDir first; a missing job dir is created for `owner` or us).
   * Returns the path (for BEARER_TOKEN_FILE).
   */
  async writeJobCredential(jobId: string, name: string, data: string, expiresAt: number | null, owner?: Owner): Promise<string> {
    this.#assertOpen();
    const dir = this.jobDir(jobId);
    checkName('credential', name);
    let st = await lstatOrUndefined(dir);
    if (!st) {
      await this.createJobDir(jobId, owner);
      st = await lstatOrUndefined(dir);
    }
    if (!st || !st.isDirectory()) {
      throw new GlideinError('GLIDEIN_ERR_STORE_UNSAFE', `${dir}: is not a directory`, { details: { path: dir } });
    }
    const dirOwner = { uid: st.uid, gid: st.gid };
    if (owner && owner.uid !== dirOwner.uid) {
      throw new GlideinError(
        'GLIDEIN_ERR_STORE_UNSAFE',
        `${dir}: belongs to uid ${dirOwner.uid}; refusing to store a credential for uid ${owner.uid} in it`,
        { details: { path: dir, uid: dirOwner.uid, requestedUid: owner.uid } },
      );
    }
    const path = join(dir, name);
    const fileOwner = owner ?? dirOwner;
    await atomicWriteFile(path, data, { mode: 0o600, ...(fileOwner.uid === euid() && fileOwner.gid === egid() ? {} : { owner: fileOwner }) });
    this.expiry.set(`jobs/${jobId}/${name}`, expiresAt);
    this.#log.debug('job credential stored', { jobId, storePath: `jobs/${jobId}/${name}`, expiresAt });
    return path;
  }

  /** Read a J-CRED, checking it is owned by the job dir's owner. */
  async readJobCredential(jobId: string, name: string): Promise<Buffer> {
    const dir = this.jobDir(jobId);
    const st = await lstatOrUndefined(dir);
    if (!st || !st.isDirectory()) throw new GlideinError('GLIDEIN_ERR_STORE_IO', `${dir}: no such job directory`, { details: { path: dir } });
    return safeReadFile(join(dir, checkName('credential', name)), { expectedUid: st.uid });
  }

  /**
   * Remove a job's directory and everything in it (files may belong to the mapped account; a
   * job dir already gone is fine), descriptor by descriptor: a symlink the mapped account
   * plants inside, even mid-removal, is removed and never followed (remove-tree.ts). Call it
   * after the job's processes are gone: a live process of the account could keep refilling its
   * own subdirectories, and then the removal fails (GLIDEIN_ERR_STORE_IO, ENOTEMPTY).
   */
  async wipe(jobId: string): Promise<void> {
    const dir = this.jobDir(jobId);
    const st = await lstatOrUndefined(dir);
    if (st) {
      if (st.isDirectory() && euid() === 0) {
        // Take the dir back first so the mapped account can no longer reach or change it.
        await fsp.chown(dir, 0, 0).catch(() => undefined);
        await fsp.chmod(dir, 0o700).catch(() => undefined);
      }
      await removeTree(dir);
      await fsyncDir(this.jobsDir).catch(() => undefined);
    }
    this.expiry.deletePrefix(`jobs/${jobId}/`);
    this.#log.info('job credentials wiped', { jobId });
  }

  /** Remove the whole store (pilot exit): every credential, every job dir, and cred.d itself. */
  async wipeAll(): Promise<void> {
    this.#wiped = true;
    this.expiry.close();
    const st = await lstatOrUndefined(this.root);
    if (st?.isDirectory() && euid() === 0) await fsp.chmod(this.root, 0o700).catch(() => undefined);
    // Job dirs first: they are the ones other accounts could reach.
    const jobs = await fsp.readdir(this.jobsDir).catch(() => [] as string[]);
    for (const id of jobs) await removeTree(join(this.jobsDir, id));
    await removeTree(this.root);
    this.#log.info('credential store wiped', { root: this.root });
  }
}

