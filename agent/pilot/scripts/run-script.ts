// Running one VO or factory script (issue 24 section 5): its bytes checked against the declared
// sha256 before anything runs (a mismatch fails as Config), then `SCRIPT glidein_config ENTRY_ID`
// as the pilot (never as root) in a fresh directory, in its own process group killed at the
// deadline (SIGTERM, 2 s, SIGKILL to the group), with the glidein_config protocol of
// GlideinWMS (glidein-lib.ts). The result: otrb_output.xml as GlideinWMS reads it, and the
// attributes the script exported with add_config_line + add_condor_vars_line.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGlideinConfig } from '../../validate/glidein-config.ts';
import type { AttributeValue, FailureCategory } from '../../validate/types.ts';
import { CONFIG_LINE_SOURCE, ERROR_GEN, ID_SELECTORS_SOURCE } from './glidein-lib.ts';
import { readScriptXml, type ScriptXml } from './script-result.ts';
import type { ScriptSpec } from '../../../shared/script-spec.ts';

export interface ScriptAccount {
  uid: number;
  gid: number;
}

export interface ScriptRoot {
  dir: string;
  configPath: string;
  varsPath: string;
  account: ScriptAccount;
}

/** The scripts' dir: the helpers, glidein_config (BASE's values plus the protocol's paths) and an empty condor_vars file. */
export async function prepareScriptRoot(dir: string, base: Readonly<Record<string, string>>, account: ScriptAccount = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): Promise<ScriptRoot> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lib = join(dir, 'add_config_line.source');
  const errorGen = join(dir, 'error_gen.sh');
  const selectors = join(dir, 'get_id_selectors.source');
  const configPath = join(dir, 'glidein_config');
  const varsPath = join(dir, 'condor_vars.lst');
  await writeFile(lib, CONFIG_LINE_SOURCE, { mode: 0o644 });
  await writeFile(errorGen, ERROR_GEN, { mode: 0o755 });
  await writeFile(selectors, ID_SELECTORS_SOURCE, { mode: 0o644 });
  const lines = Object.entries(base).filter(([k, v]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !/[\r\n]/.test(v)).map(([k, v]) => `${k} ${v}`);
  lines.push(`ADD_CONFIG_LINE_SOURCE ${lib}`, `GET_ID_SELECTORS_SOURCE ${selectors}`, `ERROR_GEN_PATH ${errorGen}`, `CONDOR_VARS_FILE ${varsPath}`, `GLIDEIN_WORK_DIR ${dir}`);
  await writeFile(configPath, lines.join('\n') + '\n', { mode: 0o600 });
  await writeFile(varsPath, '# VarName Type Default CondorName Req. ExportCondor UserJobEnvName\n', { mode: 0o600 });
  if (account.uid !== process.getuid?.()) for (const p of [dir, configPath, varsPath]) await chown(p, account.uid, account.gid);
  return { dir, configPath, varsPath, account };
}

/** 'fetch-failed' and 'skipped' never ran (vo-scripts.ts): the service refused it, or an earlier script failed. */
export type ScriptOutcome = 'ok' | 'failed' | 'deadline' | 'hash-mismatch' | 'as-root' | 'fetch-failed' | 'skipped';

export interface ScriptRunResult {
  name: string;
  stage: ScriptSpec['stage'];
  outcome: ScriptOutcome;
  exitCode: number | null;
  failure: FailureCategory | string | null;
  detail: string;
  xml: ScriptXml | null;
  /** What the script exported to the startd (condor_vars lines with ExportCondor Y), typed by the line's type. */
  attributes: Record<string, AttributeValue>;
}

const GRACE_MS = 2000;

function typed(type: string, value: string): AttributeValue {
  if (type === 'I' && /^-?\d+$/.test(value)) return Number(value);
  if (type === 'C' && /^(true|false)$/i.test(value)) return /^true$/i.test(value);
  return value;
}

/** The attributes exported in AFTER that were not exported the same way in BEFORE. */
function exported(before: string, after: string, config: Map<string, string>): Record<string, AttributeValue> {
  const old = new Set(before.split('\n').map((l) => l.trim()));
  const out: Record<string, AttributeValue> = {};
  for (const line of after.split('\n').map((l) => l.trim())) {
    const f = line.split(/\s+/);
    if (line === '' || line.startsWith('#') || old.has(line) || f.length < 6 || f[5] !== 'Y') continue;
    const value = config.get(f[0]!);
    if (value !== undefined) out[f[0]!] = typed(f[1]!, value);
  }
  return out;
}

/** Spawn and wait; the whole process group is killed at the deadline or on abort. */
function execute(path: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, account: ScriptAccount, deadlineS: number, signal?: AbortSignal): Promise<{ code: number | null; timedOut: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const own = account.uid === process.getuid?.();
    const child = spawn(path, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...(own ? {} : { uid: account.uid, gid: account.gid }) });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-16 * 1024));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* the group is gone */
      }
    };
    const stop = () => {
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), GRACE_MS).unref();
    };
    const timer = setTimeout(() => ((timedOut = true), stop()), deadlineS * 1000);
    signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      kill('SIGKILL'); // nothing the script left behind outlives its run
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code, timedOut, output });
    });
  });
}

/** A result that did not come from a run: refused, not fetched, or skipped. */
export function notRun(spec: ScriptSpec, outcome: ScriptOutcome, failure: string | null, detail: string): ScriptRunResult {
  return { name: spec.name, stage: spec.stage, outcome, exitCode: null, failure, detail, xml: null, attributes: {} };
}

/** Why SPEC's CONTENT must not run (a hash other than the declared one, a root account), or null. */
export function refuseScript(root: Pick<ScriptRoot, 'account'>, spec: ScriptSpec, content: Buffer): ScriptRunResult | null {
  const digest = createHash('sha256').update(content).digest('hex');
  if (digest !== spec.sha256) return notRun(spec, 'hash-mismatch', 'Config', `${spec.name}: sha256 ${digest} is not the declared ${spec.sha256}; not run`);
  if (root.account.uid === 0) return notRun(spec, 'as-root', 'Config', `${spec.name}: scripts never run as root; not run`);
  return null;
}

export async function runScript(root: ScriptRoot, spec: ScriptSpec, content: Buffer, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ScriptRunResult> {
  const base = { name: spec.name, stage: spec.stage, exitCode: null, xml: null, attributes: {} };
  const refused = refuseScript(root, spec, content);
  if (refused) return refused;
  if (signal?.aborted) return notRun(spec, 'skipped', null, `${spec.name}: not run: the pilot is stopping`);
  const runDir = await mkdtemp(join(root.dir, `run-${spec.name}-`));
  const script = join(runDir, spec.name);
  await writeFile(script, content, { mode: 0o700 });
  if (root.account.uid !== process.getuid?.()) {
    await chown(runDir, root.account.uid, root.account.gid);
    await chown(script, root.account.uid, root.account.gid);
  }
  await chmod(runDir, 0o700);
  const varsBefore = await readFile(root.varsPath, 'utf8');
  const r = await execute(script, [root.configPath, 'entry'], runDir, env, root.account, spec.deadline, signal);
  const text = await readFile(join(runDir, 'otrb_output.xml'), 'utf8').catch(() => null);
  const xml = readScriptXml(text, r.code ?? 1);
  const attributes = exported(varsBefore, await readFile(root.varsPath, 'utf8'), parseGlideinConfig(await readFile(root.configPath, 'utf8')));
  if (r.timedOut) return { ...base, outcome: 'deadline', exitCode: r.code, xml, attributes, failure: xml.failure ?? 'VO_Config', detail: `${spec.name}: killed at its deadline of ${spec.deadline} s` };
  if (r.code !== 0) {
    const why = xml.kept && xml.detail ? xml.detail : r.output.trim().split('\n').slice(-5).join('\n');
    return { ...base, outcome: 'failed', exitCode: r.code, xml, attributes, failure: xml.failure ?? 'VO_Config', detail: `${spec.name}: exit ${r.code}${why ? `: ${why}` : ''}` };
  }
  return { ...base, outcome: 'ok', exitCode: 0, xml, attributes, failure: null, detail: xml.kept ? xml.detail : '' };
}
