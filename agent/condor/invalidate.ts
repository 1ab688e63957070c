// Taking a glidein's startd out of the pool's collector when HTCondor did not (issue 14: "leaves
// nothing behind"). A startd that leaves through STARTD.DAEMON_SHUTDOWN (retired and empty, or
// idle) exits while its last collector update is still being sent: with HTCondor 25.14 the
// collector logged "Received malformed ad" and never got the invalidation, so the dead slot
// stayed in `condor_status` (and in a frontend's glidein count) until the collector's
// CLASSAD_LIFETIME, 15 min by default. After such an exit the agent sends the invalidation itself
// with `condor_advertise INVALIDATE_STARTD_ADS`, through the glidein's own config: its C-CRED
// carries ADVERTISE_STARTD, which is what the collector asks of an invalidation. Best effort.
// A stock HTCondor install (RPM, tarball) puts condor_advertise in sbin/, some in bin/: both are
// looked in, sbin first (issue 27 section 2).
import { execFile } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.ts';
import { masterEnv } from './master.ts';

const ADVERTISE_TIMEOUT_MS = 20_000;

/** The query ads: the slot ads and the StartD daemon ad of the startd named `daemon` (`glidein_<id>`). */
export function invalidationAds(daemon: string): { targetType: string; text: string }[] {
  // daemonName() keeps [A-Za-z0-9_.-]: only '.' is special in a regular expression.
  const name = daemon.replace(/\./g, '\\\\.');
  const requirements = `regexp("(^|@)${name}@", Name)`;
  return ['Machine', 'StartD'].map((targetType) => ({ targetType, text: `MyType = "Query"\nTargetType = "${targetType}"\nRequirements = ${requirements}\n` }));
}

/** The first executable condor_advertise in `dirs` (the install's sbin, then bin), or null. */
export function findCondorAdvertise(dirs: readonly string[]): string | null {
  for (const dir of dirs) {
    const path = join(dir, 'condor_advertise');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not here: the next dir */
    }
  }
  return null;
}

function advertise(program: string, file: string, env: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(program, ['INVALIDATE_STARTD_ADS', file], { env, timeout: ADVERTISE_TIMEOUT_MS }, (e, _out, err) => {
      resolve(e ? `${e.message.split('\n')[0]}${err ? `: ${String(err).trim().split('\n').slice(-1)[0]}` : ''}` : null);
    });
  });
}

export interface InvalidateOptions {
  /** The HTCondor install's sbin and bin dirs, where condor_advertise is looked for in this order. */
  sbin: string;
  bin: string;
  /** The glidein's condor_config (collector, token dir, security). */
  configFile: string;
  /** Where the query ads are written. */
  dir: string;
  daemon: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/** Send the invalidations; logs what happened and never throws. */
export async function invalidateStartdAds(o: InvalidateOptions): Promise<boolean> {
  const env = masterEnv(o.env, o.configFile, 'invalidate');
  const program = findCondorAdvertise([o.sbin, o.bin]);
  if (program === null) {
    o.log.warn('startd invalidation not sent: no condor_advertise in the HTCondor install; its ads stay in the collector until they expire', { looked: [o.sbin, o.bin] });
    return false;
  }
  let ok = true;
  for (const ad of invalidationAds(o.daemon)) {
    const file = join(o.dir, `invalidate-${ad.targetType}.ad`);
    try {
      writeFileSync(file, ad.text, { mode: 0o600 });
    } catch (e) {
      o.log.warn('cannot write the startd invalidation', { file, error: e });
      return false;
    }
    const error = await advertise(program, file, env);
    if (error) {
      ok = false;
      o.log.warn('startd invalidation not sent or refused; its ads stay in the collector until they expire', { targetType: ad.targetType, condorAdvertise: program, error });
    }
  }
  if (ok) o.log.info('startd ads invalidated at the collector', { daemon: o.daemon });
  return ok;
}
