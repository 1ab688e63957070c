// The VO's and the factory's own scripts an entry declares (issue 24 section 5), bundle field
// `scripts`: each a name, the sha256 of its content, a stage (`validate` and `setup` run once
// before payloads; `periodic` every `period` seconds while the pilot runs) and a deadline.
import { GlideinError, type ErrorCode } from './errors.ts';

export type ScriptStage = 'validate' | 'setup' | 'periodic';

export interface ScriptSpec {
  name: string;
  /** Lower-case hex sha256 of the script's bytes. */
  sha256: string;
  stage: ScriptStage;
  /** Seconds between runs of a periodic script. */
  period: number | null;
  /** Seconds a run may take before its process group is killed. */
  deadline: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_SCRIPTS = 32;

export function parseScriptSpecs(value: unknown, where: string, code: ErrorCode = 'GLIDEIN_ERR_BUNDLE'): ScriptSpec[] {
  const fail = (key: string, expected: string): never => {
    throw new GlideinError(code, `${where}: scripts${key}: expected ${expected}`);
  };
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_SCRIPTS) fail('', `a list of at most ${MAX_SCRIPTS} scripts`);
  const names = new Set<string>();
  return (value as unknown[]).map((s, i) => {
    const at = `[${i}]`;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) fail(at, 'an object {name, sha256, stage, period, deadline}');
    const o = s as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['name', 'sha256', 'stage', 'period', 'deadline'].includes(k)) fail(`${at}.${k}`, 'name, sha256, stage, period or deadline (unknown key)');
    if (typeof o['name'] !== 'string' || !NAME.test(o['name'])) fail(`${at}.name`, 'a file name of letters, digits and _.- (at most 128)');
    if (names.has(o['name'] as string)) fail(`${at}.name`, `a name given once ('${o['name']}' is listed twice)`);
    names.add(o['name'] as string);
    if (typeof o['sha256'] !== 'string' || !SHA256.test(o['sha256'])) fail(`${at}.sha256`, '64 lower-case hex digits');
    const stage = o['stage'];
    if (stage !== 'validate' && stage !== 'setup' && stage !== 'periodic') fail(`${at}.stage`, 'validate, setup or periodic');
    const period = o['period'] ?? null;
    if (stage === 'periodic' ? !(Number.isInteger(period) && (period as number) >= 1 && (period as number) <= 86_400) : period !== null) {
      fail(`${at}.period`, stage === 'periodic' ? 'whole seconds from 1 to 86400' : 'no period (only periodic scripts have one)');
    }
    const deadline = o['deadline'];
    if (!Number.isInteger(deadline) || (deadline as number) < 1 || (deadline as number) > 3600) fail(`${at}.deadline`, 'whole seconds from 1 to 3600');
    return { name: o['name'] as string, sha256: o['sha256'] as string, stage: stage as ScriptStage, period: period as number | null, deadline: deadline as number };
  });
}
