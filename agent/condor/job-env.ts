// Keeping the job's environment away from the pilot (issue 21 item 1). HTCondor's starter execs
// USER_JOB_WRAPPER with the *job's* environment (os_proc.cpp): a job's LD_PRELOAD, LD_AUDIT,
// GCONV_PATH … would run its code in the wrapper, as the pilot, before any line of ours. No
// script or executable can undo that once it has started, so the job's environment must never
// reach it. The prepare-job hook runs first, with the starter's own environment (PublishToEnv)
// and the job ad on stdin, and the starter merges the hook's update ad into the job ad *before*
// it builds the job's environment (StarterHookMgr.cpp: job_ad->Update, then the job starts).
// So the hook replaces the ad's `Environment` with one variable, GLIDEIN_CONDOR_JOB, holding
// the job's own environment and the facts the wrapper needs from the trusted ad, sealed with a
// key only the pilot can read. The wrapper opens it, and the job gets its environment back
// after the identity switch, as its own account.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants, closeSync, fstatSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { GlideinError } from '../../shared/errors.ts';

/** The one variable the job wrapper is started with instead of the job's environment. */
export const JOB_FACTS_VARIABLE = 'GLIDEIN_CONDOR_JOB';
const KEY_BYTES = 32;

/** What the hook read from the job ad the starter gave it, for the wrapper. */
export interface JobFacts {
  v: 1;
  /** The job's environment as HTCondor would have given it (Environment, or Env). */
  env: Record<string, string>;
  /** The image the ad asks for (SingularityImage, else ContainerImage; job-ad-container.ts), as the job spec's container. */
  container: { image: string } | null;
  /** The ad asks for OAuth services: the starter made <scratch>/.condor_creds. */
  oauth: boolean;
  scratchDir: string;
  globalJobId: string | null;
  user: string | null;
  clusterId: string | null;
  procId: string | null;
}

/** Make the sealing key (0600, the pilot's; written by the agent when it installs the wrapper). */
export function writeFactsKey(path: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, randomBytes(KEY_BYTES).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
}

export function readFactsKey(path: string, o: { owner: 'self' | 'any' } = { owner: 'self' }): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `the job wrapper's key file ${path} cannot be opened: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 256 || (st.mode & 0o077) !== 0 || (o.owner === 'self' && st.uid !== process.geteuid?.())) {
      throw new GlideinError('GLIDEIN_ERR_CONFIG', `the job wrapper's key file ${path} must be a regular file of this account, mode 0600, at most 256 bytes`);
    }
    const buf = Buffer.alloc(st.size);
    const text = buf.subarray(0, readSync(fd, buf, 0, st.size, 0)).toString('utf8').trim();
    const key = Buffer.from(text, 'base64url');
    if (key.length !== KEY_BYTES) throw new GlideinError('GLIDEIN_ERR_CONFIG', `the job wrapper's key file ${path} does not hold a ${KEY_BYTES}-byte key`);
    return key;
  } finally {
    closeSync(fd);
  }
}

const mac = (key: Buffer, body: string): Buffer => createHmac('sha256', key).update(`glidein condor job facts v1\n${body}`).digest();

export function sealFacts(facts: JobFacts, key: Buffer): string {
  const body = Buffer.from(JSON.stringify(facts)).toString('base64url');
  return `${body}.${mac(key, body).toString('base64url')}`;
}

/** The facts the hook sealed, or null when the value is absent or not sealed with this key. */
export function openFacts(value: string | undefined, key: Buffer): JobFacts | null {
  if (!value) return null;
  const dot = value.indexOf('.');
  if (dot <= 0) return null;
  const body = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), 'base64url');
  const want = mac(key, body);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return null;
  try {
    const f = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as JobFacts;
    return f && f.v === 1 && typeof f.env === 'object' && typeof f.scratchDir === 'string' ? f : null;
  } catch {
    return null;
  }
}

/** What the hook prints so that the job's environment is this one variable (a ClassAd line). */
export function environmentUpdate(sealed: string): string {
  // base64url and '.' only: nothing to quote for ClassAds or HTCondor's V2 environment syntax.
  return `Environment = "${JOB_FACTS_VARIABLE}=${sealed}"\n`;
}
