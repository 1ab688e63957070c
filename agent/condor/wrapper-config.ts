// What the agent and its job wrapper share: the wrapper's config (policy path, where to keep a
// job's credential store, where to write events), the launcher script HTCondor runs as
// USER_JOB_WRAPPER (one path: HTCondor cannot pass arguments to a wrapper), the wrapper's event
// records (job start and end, refusals) and the few job ad attributes the wrapper needs.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { selfCommand } from '../../shared/self-command.ts';
import { GlideinError } from '../../shared/errors.ts';
import { shellQuote } from './config-values.ts';
import { writeFactsKey } from './job-env.ts';
import { parseContainerEntry, type ContainerEntry } from '../../shared/container-entry.ts';
import type { AuditPilot } from '../audit/audit-record.ts';

export interface WrapperConfig {
  v: 1;
  /** The site policy file, or null (identity none: jobs run as the pilot). */
  policy: string | null;
  /** Where each job's private credential store is made. */
  storeParent: string;
  /** Where the wrapper writes its event records for the agent. */
  events: string;
  /** The wrapper's log (JSON lines): the job's stderr is the job's, not ours. */
  logFile: string;
  /** The key (0600) the prepare-job hook seals the job's facts with for the wrapper (job-env.ts). */
  factsKey: string;
  /** The bundle's container entry (issue 22): mode and default image; absent: optional, none. */
  container?: ContainerEntry;
  /** The pilot, for the site's audit records (issue 25): glidein id, entry, factory, batch job. */
  pilot?: AuditPilot;
}

export interface WrapperEvent {
  event: 'start' | 'end';
  /** The job's key (condor-<cluster>.<proc>-<wrapper pid>); set by writeWrapperEvent. */
  key?: string;
  state?: string;
  reason?: string | null;
  /** Set on a permanent launch error: what the slot refuses from now on. */
  refuse?: { job: string | null; user: string | null };
}

export const WRAPPER_COMMAND = 'condor-job-wrapper';
export const PREPARE_HOOK_COMMAND = 'condor-prepare-job';

function writeLauncher(path: string, comment: string, argv: string): void {
  writeFileSync(path, `#!/bin/sh\n# ${comment}\nexec ${argv}\n`, { mode: 0o755 });
  chmodSync(path, 0o755);
}

/**
 * Write the wrapper's config and the two launchers HTCondor runs: the job wrapper
 * (USER_JOB_WRAPPER) and the prepare-job hook (prepare-job.ts); returns their paths.
 */
export function installWrapper(root: string, config: Omit<WrapperConfig, 'v' | 'factsKey'>, command: readonly string[] = selfCommand()): { wrapper: string; prepareHook: string } {
  mkdirSync(config.storeParent, { recursive: true, mode: 0o711 });
  mkdirSync(config.events, { recursive: true, mode: 0o700 });
  const configPath = join(root, 'job-wrapper.json');
  const factsKey = join(root, 'job-facts.key');
  writeFactsKey(factsKey);
  writeFileSync(configPath, JSON.stringify({ v: 1, ...config, factsKey }) + '\n', { mode: 0o644 });
  const wrapper = join(root, 'glidein-job-wrapper');
  writeLauncher(wrapper, "HTCondor's USER_JOB_WRAPPER for glidein: the job's command line follows.", `${[...command, WRAPPER_COMMAND, '--config', configPath, '--'].map(shellQuote).join(' ')} "$@"`);
  const prepareHook = join(root, 'glidein-prepare-job');
  writeLauncher(prepareHook, "HTCondor's prepare-job hook for glidein: the job ad comes on stdin.", [...command, PREPARE_HOOK_COMMAND, '--config', configPath].map(shellQuote).join(' '));
  return { wrapper, prepareHook };
}

export function readWrapperConfig(path: string): WrapperConfig {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `condor-job-wrapper: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const c = v as Partial<WrapperConfig>;
  if (c.v !== 1 || typeof c.storeParent !== 'string' || typeof c.events !== 'string' || typeof c.logFile !== 'string' || typeof c.factsKey !== 'string' || (c.policy !== null && typeof c.policy !== 'string')) {
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `condor-job-wrapper: ${path} is not a job wrapper config (v 1, policy, storeParent, events, logFile, factsKey)`);
  }
  if (c.container !== undefined) c.container = parseContainerEntry(c.container, 'GLIDEIN_ERR_CONFIG', `condor-job-wrapper: ${path} container`);
  return c as WrapperConfig;
}

/** Record an event atomically (temp name starting with '.', then rename); a failure is not the job's problem. */
export function writeWrapperEvent(c: WrapperConfig, jobKey: string, e: WrapperEvent): void {
  // '1-start' sorts before '2-end': a reader sees a job's start first.
  const name = `${jobKey}.${e.event === 'start' ? '1-start' : '2-end'}.json`;
  const tmp = join(c.events, `.${name}.${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(tmp, JSON.stringify({ ...e, key: jobKey }), { mode: 0o600 });
    renameSync(tmp, join(c.events, name));
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** Take the events written since the last call (the files are removed once read). */
export function takeWrapperEvents(dir: string): WrapperEvent[] {
  const out: WrapperEvent[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.') && n.endsWith('.json')).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      const e = JSON.parse(readFileSync(join(dir, n), 'utf8')) as WrapperEvent;
      if (e && (e.event === 'start' || e.event === 'end')) out.push(e);
    } catch {
      /* half-written files never appear (rename); anything else is ignored */
    }
    rmSync(join(dir, n), { force: true });
  }
  return out;
}

export interface JobAdFacts {
  globalJobId: string | null;
  user: string | null;
  clusterId: string | null;
  procId: string | null;
}

/** A job's key in the wrapper events: condor-<cluster>.<proc>-<tag>, the tag telling attempts apart. */
export function jobKey(ad: JobAdFacts, tag: string): string {
  return `condor-${ad.clusterId ?? 'x'}.${ad.procId ?? 'x'}-${tag}`;
}

/** The few attributes the wrapper and the hook need from a job ad's text. */
export function parseJobAd(text: string): JobAdFacts {
  const get = (name: string): string | null => {
    const m = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)"?\\s*$`, 'im').exec(text);
    return m && /^[A-Za-z0-9@._#:+-]{1,256}$/.test(m[1]!) ? m[1]! : null;
  };
  return { globalJobId: get('GlobalJobId'), user: get('User'), clusterId: get('ClusterId'), procId: get('ProcId') };
}

/** The same from the starter's copy of the job ad (_CONDOR_JOB_AD). */
export function readJobAd(path: string | undefined): JobAdFacts {
  if (!path) return parseJobAd('');
  try {
    return parseJobAd(readFileSync(path, 'utf8'));
  } catch {
    return parseJobAd('');
  }
}
