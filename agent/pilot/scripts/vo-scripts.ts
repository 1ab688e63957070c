// The entry's VO and factory scripts over one pilot's life (issue 24 section 5): every script
// fetched once before payloads (its hash checked before it runs), the `validate` then the
// `setup` scripts run in the order the entry lists them, stopping at the first failure (as
// GlideinWMS does), then the `periodic` ones every `period` seconds while payloads run. What
// each did is kept as a row for the status report.
import type { Logger } from '../../../shared/log.ts';
import type { ScriptSpec } from '../../../shared/script-spec.ts';
import type { AttributeValue } from '../../validate/types.ts';
import { startPeriodic, type PeriodicHandle } from './periodic.ts';
import { notRun, prepareScriptRoot, refuseScript, runScript, type ScriptAccount, type ScriptRoot, type ScriptRunResult } from './run-script.ts';
import type { FetchedScript } from './script-fetch.ts';

/** One script's row in the status report (`scripts`, snake_case like the rest of the wire protocol). */
export interface ScriptRow {
  name: string;
  stage: ScriptSpec['stage'];
  status: 'OK' | 'ERROR';
  runs: number;
  last_run_at: number | null;
  exit_code: number | null;
  detail: string;
  attributes: Record<string, string | number | boolean>;
}

export interface VoScriptsOptions {
  specs: readonly ScriptSpec[];
  /** A directory of the pilot's own for the scripts (created here). */
  dir: string;
  /** glidein_config's starting values (entry, site, parameters, validation's attributes). */
  config: Readonly<Record<string, string>>;
  env: NodeJS.ProcessEnv;
  account: ScriptAccount;
  fetch(name: string, sha256: string): Promise<FetchedScript>;
  now(): number;
  log: Logger;
}

const MAX_DETAIL = 200;

function scalar(attributes: Record<string, AttributeValue>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attributes)) if (typeof v !== 'object') out[k] = v;
  return out;
}

export class VoScripts {
  readonly #o: VoScriptsOptions;
  readonly #contents = new Map<string, Buffer>();
  readonly #rows = new Map<string, ScriptRow>();
  readonly #periodic: PeriodicHandle[] = [];
  #root: ScriptRoot | null = null;
  #stopped = false;

  constructor(options: VoScriptsOptions) {
    this.#o = options;
  }

  get specs(): readonly ScriptSpec[] {
    return this.#o.specs;
  }

  /** Fetch every script, then run the validate and setup stages; a result per listed script, in order. */
  async runStartStages(signal?: AbortSignal): Promise<ScriptRunResult[]> {
    const { specs } = this.#o;
    const results: ScriptRunResult[] = [];
    let failed: string | null = null;
    for (const spec of specs) {
      if (failed === null) {
        const got = await this.#o.fetch(spec.name, spec.sha256);
        if (got.ok) this.#contents.set(spec.name, got.content);
        else failed = this.#record(notRun(spec, 'fetch-failed', got.failure, got.detail), results);
      } else results.push(notRun(spec, 'skipped', null, `not fetched: ${failed} failed`));
    }
    if (failed === null) this.#root = await prepareScriptRoot(this.#o.dir, this.#o.config, this.#o.account);
    for (const stage of ['validate', 'setup'] as const) {
      for (const spec of specs.filter((s) => s.stage === stage)) {
        if (failed !== null || signal?.aborted) {
          if (!results.some((r) => r.name === spec.name)) results.push(notRun(spec, 'skipped', null, signal?.aborted ? 'not run: the pilot is draining' : `not run: ${failed} failed`));
          continue;
        }
        const r = await runScript(this.#root!, spec, this.#contents.get(spec.name)!, this.#o.env, signal);
        if (r.outcome !== 'ok') failed = spec.name;
        this.#record(r, results);
      }
    }
    // A periodic script's hash is checked now too (it runs only later): a wrong one fails the start.
    for (const spec of specs.filter((s) => s.stage === 'periodic')) {
      if (results.some((r) => r.name === spec.name)) continue;
      const mismatch = failed === null ? refuseScript(this.#root!, spec, this.#contents.get(spec.name)!) : null;
      if (mismatch) {
        failed = spec.name;
        this.#record(mismatch, results);
      } else results.push(notRun(spec, 'skipped', null, failed === null ? `periodic, every ${spec.period} s once payloads run` : `not run: ${failed} failed`));
    }
    return specs.map((s) => results.find((r) => r.name === s.name)!);
  }

  /** Run the periodic scripts until one fails (onFailure, once) or stop(). */
  startPeriodic(onFailure: (r: ScriptRunResult) => void): void {
    if (this.#root === null || this.#stopped) return;
    for (const spec of this.#o.specs.filter((s) => s.stage === 'periodic')) {
      const handle = startPeriodic(this.#root, spec, this.#contents.get(spec.name)!, this.#o.env, (r) => {
        this.#record(r);
        this.#o.log[r.outcome === 'ok' ? 'info' : 'error']('periodic script ran', { script: spec.name, outcome: r.outcome, exitCode: r.exitCode, detail: r.detail.slice(0, MAX_DETAIL) });
      });
      this.#periodic.push(handle);
      void handle.done.then((r) => {
        if (r && !this.#stopped) onFailure(r);
      });
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const h of this.#periodic.splice(0)) h.stop();
  }

  /** Every script's row (those that never ran included), in the entry's order. */
  rows(): ScriptRow[] {
    return this.#o.specs.map((s) => this.#rows.get(s.name) ?? { name: s.name, stage: s.stage, status: 'OK', runs: 0, last_run_at: null, exit_code: null, detail: s.stage === 'periodic' ? 'not run yet' : 'not run', attributes: {} });
  }

  /** Keep R as its script's row; returns the script's name. */
  #record(r: ScriptRunResult, into?: ScriptRunResult[]): string {
    into?.push(r);
    const prev = this.#rows.get(r.name);
    const ran = r.outcome !== 'skipped' && r.outcome !== 'fetch-failed';
    this.#rows.set(r.name, {
      name: r.name,
      stage: r.stage,
      status: r.outcome === 'ok' ? 'OK' : 'ERROR',
      runs: (prev?.runs ?? 0) + (ran ? 1 : 0),
      last_run_at: ran ? Math.floor(this.#o.now() / 1000) : (prev?.last_run_at ?? null),
      exit_code: r.exitCode,
      detail: r.detail.slice(0, MAX_DETAIL),
      attributes: { ...prev?.attributes, ...scalar(r.attributes) },
    });
    return r.name;
  }
}
