// The payload's environment (DESIGN.md section 7.3): built from nothing, never copied from the
// pilot. Only harmless basics of the agent's own environment pass (locale, time zone, terminal);
// then the account's basics, then the job's own variables (which may not set LD_PRELOAD).
import { FORBIDDEN_JOB_ENV } from './job-spec.ts';
import { JOB_MARK_VARIABLE } from './process-sweep.ts';

const PASS_FROM_AGENT = ['LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'LC_NUMERIC', 'LC_TIME', 'TZ', 'TERM'];
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export interface EnvInput {
  agentEnv: NodeJS.ProcessEnv;
  user: { name: string; home: string } | null;
  jobEnv: Readonly<Record<string, string>>;
  cwd: string;
  bearerTokenFile: string | null;
  tty: boolean;
  /** The job's marker: lets the sweep find processes that left the job's session. Not a secret. */
  jobMark: string;
}

export function buildPayloadEnv(input: EnvInput): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const k of PASS_FROM_AGENT) {
    const v = input.agentEnv[k];
    if (typeof v === 'string' && v.length < 256 && !v.includes('\0')) env[k] = v;
  }
  if (input.user) {
    env['HOME'] = input.user.home;
    env['USER'] = input.user.name;
    env['LOGNAME'] = input.user.name;
  } else {
    const home = input.agentEnv['HOME'];
    env['HOME'] = typeof home === 'string' ? home : input.cwd;
  }
  if (input.tty && env['TERM'] === undefined) env['TERM'] = 'xterm-256color';
  env['PWD'] = input.cwd;
  for (const [k, v] of Object.entries(input.jobEnv)) {
    if (!FORBIDDEN_JOB_ENV.has(k)) env[k] = v;
  }
  if (input.bearerTokenFile) env['BEARER_TOKEN_FILE'] = input.bearerTokenFile;
  env[JOB_MARK_VARIABLE] = input.jobMark;
  return env;
}
