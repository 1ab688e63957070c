// The pilot lifecycle (DESIGN.md section 10): bundle → work dir (dead pilots' leftovers removed)
// → store → valid credentials (a stale bundle refreshes first) → validation (report and
// anti-black-hole delay on failure) → payloads from one source (spool, one command, HTCondor)
// with heartbeats → retire / idle timeout / max lifetime / batch end / C-CRED expiry / signal
// drain → final report → wipe the store and the work dir. The parts live in their own files;
// pilot-run.ts wires them.
import { systemClock } from './clock.ts';
import { loadBundle } from './bundle.ts';
import { selectWorkdir, WORKDIR_PREFIX, type WorkdirChoice } from './workdir.ts';
import { removeDeadPilotsWorkdirs, writeWorkdirLock } from './workdir-lock.ts';
import { PilotRun } from './pilot-run.ts';
import type { PilotOptions, PilotSummary } from './pilot-options.ts';
import type { Logger } from '../../shared/log.ts';

export type { LaunchContext, PilotEndReason, PilotEvent, PilotOptions, PilotSummary, DrainRequest } from './pilot-options.ts';
export type { ValidateFn, ValidationOutcome, ValidationReport } from './validation.ts';
export { usableCores } from './validation.ts';

/** A private work dir with this pilot's lock in it, after removing what dead pilots left beside it. */
async function prepareWorkdir(o: PilotOptions, log: Logger): Promise<WorkdirChoice> {
  const workdir = selectWorkdir({ flag: o.workdir, env: o.env, ...(o.minFreeBytes !== undefined ? { minFreeBytes: o.minFreeBytes } : {}) });
  writeWorkdirLock(workdir.dir);
  if (o.cleanStale !== false) await removeDeadPilotsWorkdirs({ base: workdir.base, prefix: WORKDIR_PREFIX, own: workdir.dir, log });
  return workdir;
}

/** Run the pilot to the end. Configuration mistakes throw (exit 2); everything else is the summary. */
export async function runPilot(o: PilotOptions): Promise<PilotSummary> {
  const clock = o.clock ?? systemClock;
  const log = o.log.child({ component: 'pilot' });
  // Everything that can be a caller mistake is checked before anything is created.
  const bundle = loadBundle(o.bundlePath, Math.floor(clock.now() / 1000));
  o.checkRequirements?.(bundle.requirements, o.bundlePath);
  const plog = log.child({ glideinId: bundle.glideinId });
  const workdir = await prepareWorkdir(o, plog);
  plog.info('pilot starting', { entry: bundle.entry, workdir: workdir.dir, workdirSource: workdir.source, expiresAt: bundle.expiresAt, payload: o.source.kind });
  return new PilotRun(o, bundle, workdir, clock, plog).execute();
}
