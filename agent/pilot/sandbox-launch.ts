// The spool's launcher: every spec goes through exactly the path `glidein exec` uses
// (parseJobSpec, then the sandbox's startJob with the site policy and the pilot's store).
import { parseJobSpec, startJob, type KillReason, type Policy } from '../sandbox/index.ts';
import { loadCheckedPolicy } from '../sandbox/policy-files.ts';
import type { LaunchContext } from './pilot.ts';
import type { LaunchFn } from './spool.ts';

/** The site policy: always loaded for a spool (default policy when no file), optional otherwise. */
export async function loadPilotPolicy(path: string | undefined, needed: boolean): Promise<Policy | undefined> {
  if (path === undefined && !needed) return undefined;
  return loadCheckedPolicy(path);
}

function killReason(reason: string): KillReason {
  return reason === 'credential-expired' || reason === 'timeout' || reason === 'cancelled' ? reason : 'pilot-shutdown';
}

export function makeSandboxLaunch(policy: Policy): (ctx: LaunchContext) => LaunchFn {
  return (ctx) => (value, where) => {
    const spec = parseJobSpec(value, where);
    const handle = startJob(spec, { policy, store: ctx.store, log: ctx.log, signal: ctx.signal, agentEnv: ctx.env, ...(ctx.container ? { container: ctx.container } : {}) });
    return {
      result: handle.result,
      kill: (reason) => handle.kill(killReason(reason)),
    };
  };
}
