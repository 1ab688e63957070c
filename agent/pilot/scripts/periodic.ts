// A periodic script (issue 24 section 5): run every `period` seconds after the previous run
// ended, until a run fails (the pilot then retires: START false in condor mode, no new spool
// jobs) or the pilot stops it.
import { runScript, type ScriptRoot, type ScriptRunResult } from './run-script.ts';
import type { ScriptSpec } from '../../../shared/script-spec.ts';

export interface PeriodicHandle {
  /** The failing run, or null once stopped. */
  done: Promise<ScriptRunResult | null>;
  /** Runs so far. */
  runs(): number;
  stop(): void;
}

export function startPeriodic(root: ScriptRoot, spec: ScriptSpec, content: Buffer, env: NodeJS.ProcessEnv, onRun?: (r: ScriptRunResult) => void): PeriodicHandle {
  const controller = new AbortController();
  let runs = 0;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<ScriptRunResult | null>((resolve) => {
    controller.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(null)), { once: true });
    const tick = async () => {
      const r = await runScript(root, spec, content, env, controller.signal);
      if (controller.signal.aborted) return;
      runs++;
      onRun?.(r);
      if (r.outcome !== 'ok') return resolve(r);
      timer = setTimeout(() => void tick(), (spec.period ?? 60) * 1000);
    };
    timer = setTimeout(() => void tick(), (spec.period ?? 60) * 1000);
  });
  return { done, runs: () => runs, stop: () => controller.abort() };
}
