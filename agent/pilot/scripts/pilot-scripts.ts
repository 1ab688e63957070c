// The entry's scripts wired into one pilot run (issue 24 section 5): what they get (a glidein_config
// with the entry, the parameters and the node's attributes; a small environment of the pilot's),
// as whom they run (the pilot's account, never root), where (a fresh dir in the pilot's work
// dir), and how their results join the validation outcome.
import { join } from 'node:path';
import type { Logger } from '../../../shared/log.ts';
import type { DpopKey } from '../../../shared/dpop.ts';
import type { Bundle } from '../../../shared/protocol.ts';
import type { ValidationReport as FullReport } from '../../validate/types.ts';
import type { Clock } from '../clock.ts';
import type { Endpoints } from '../endpoints.ts';
import type { HttpClient } from '../http-client.ts';
import { parameterEnv } from '../bundle-parameters.ts';
import { renderOutcome, type ValidationOutcome } from '../validation.ts';
import { fetchScript } from './script-fetch.ts';
import { notRun, type ScriptAccount } from './run-script.ts';
import { withScripts } from './script-checks.ts';
import { VoScripts } from './vo-scripts.ts';

export interface PilotScriptsOptions {
  bundle: Bundle;
  workdir: string;
  env: NodeJS.ProcessEnv;
  http: HttpClient;
  endpoints: Endpoints;
  key: DpopKey;
  clock: Clock;
  log: Logger;
  /** Whom the scripts run as; default the pilot's own account (a root pilot's scripts are refused). */
  account?: ScriptAccount | undefined;
  /** Aborted at a drain: a fetch in flight is abandoned. */
  signal: AbortSignal;
}

/** The pilot's environment variables a script gets; nothing else of it (no proxy secrets, no tokens). */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

function scriptEnv(env: NodeJS.ProcessEnv, bundle: Bundle): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  for (const k of PASSED_ENV) if (env[k] !== undefined) out[k] = env[k];
  return { ...out, ...parameterEnv(bundle.parameters) };
}

/** glidein_config's first lines: the entry, the pilot, the parameters and the node's scalar attributes. */
function configBase(bundle: Bundle, report: FullReport): Record<string, string> {
  const out: Record<string, string> = { GLIDEIN_Entry_Name: bundle.entry, GLIDEIN_Pilot_Id: bundle.glideinId };
  for (const [k, v] of Object.entries(report.attributes ?? {})) if (typeof v !== 'object') out[k] = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  return { ...out, ...parameterEnv(bundle.parameters) };
}

/** The bundle's scripts for this run, or null when it lists none. */
export function pilotScripts(o: PilotScriptsOptions, report: FullReport): VoScripts | null {
  if (o.bundle.scripts.length === 0) return null;
  const fetchOptions = { glideinId: o.bundle.glideinId, endpoints: o.endpoints, key: o.key, http: o.http, clock: o.clock, signal: o.signal };
  return new VoScripts({
    specs: o.bundle.scripts,
    dir: join(o.workdir, 'scripts'),
    config: configBase(o.bundle, report),
    env: scriptEnv(o.env, o.bundle),
    account: o.account ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    fetch: (name, sha256) => fetchScript(fetchOptions, name, sha256),
    now: () => o.clock.now(),
    log: o.log.child({ component: 'scripts' }),
  });
}

/** Run the validate and setup scripts after the node's checks passed; the outcome with their checks. */
export async function withStartScripts(scripts: VoScripts, outcome: ValidationOutcome, workdir: string, signal: AbortSignal): Promise<ValidationOutcome> {
  const report = outcome.report as FullReport;
  if (report.status !== 'OK') {
    const skipped = scripts.specs.map((s) => notRun(s, 'skipped', null, 'not run: the node failed validation'));
    return renderOutcome(withScripts(report, skipped), workdir);
  }
  return renderOutcome(withScripts(report, await scripts.runStartStages(signal)), workdir);
}
