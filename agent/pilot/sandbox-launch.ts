// The spool's launcher: every spec goes through exactly the path `glidein exec` uses
// (parseJobSpec, then the sandbox's startJob with the site policy and the pilot's store).
import { GlideinError } from '../../shared/errors.ts';
import { loadPolicy, type Policy } from '../sandbox/policy.ts';
import { parseJobSpec } from '../sandbox/job-spec.ts';
import type { LaunchContext } from './pilot.ts';
import type { LaunchFn } from './spool.ts';

/** The site policy: always loaded for a spool (default policy when no file), optional otherwise. */
export async function loadPilotPolicy(path: string | undefined, needed: boolean): Promise<Policy | undefined> {
  if (path === undefined && !needed) return undefined;
  return loadPolicy(path);
}

export function makeSandboxLaunch(_policy: Policy): (ctx: LaunchContext) => LaunchFn {
  return (_ctx) => (value, where) => {
    parseJobSpec(value, where);
    throw new GlideinError('GLIDEIN_ERR_NOT_IMPLEMENTED', 'the sandbox launcher is not available yet');
  };
}
