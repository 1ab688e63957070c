// Runs every validator concurrently, each under its own deadline, and collects every result (no
// stopping at the first failure). A check that misses its deadline is aborted (its helper
// processes are killed) and reported as a failure when a requirement rides on it, else a warning.
import { resolve } from 'node:path';
import { VALIDATORS } from '../validators/index.ts';
import { resolveHost, type HostOptions } from './host.ts';
import type { Validator } from './validator.ts';
import type { IdentityTestPlan } from './identity-test.ts';
import type { AttributeValue, CheckName, CheckOutcome, CheckResult, IdentityAccount, Requirements, ValidationReport } from './types.ts';

export interface CheckTiming {
  durationMs: number;
}

export interface RunValidationOptions {
  requirements?: Requirements;
  /** The work directory whose free space is checked. Default: the current directory. */
  workdir?: string;
  /** Environment to read (batch variables, PATH, CUDA_VISIBLE_DEVICES …). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Accounts payloads will run as; the permissions check runs only when given. */
  identityAccounts?: IdentityAccount[];
  /** The identity-switch self-test (`validate --policy`); the identity check runs only when given. */
  identityTest?: IdentityTestPlan;
  /** The container check's test image (policy containers.testImage, or the bundle's default image). */
  containerTestImage?: string | null;
  /** Called as each check completes (the live table uses it). */
  onCheck?: (result: CheckResult, timing: CheckTiming) => void;
  /** Fixture roots and clocks (tests). */
  host?: HostOptions;
  /** Per-check deadlines in ms, overriding the validators' defaults. */
  deadlines?: Partial<Record<CheckName, number>>;
  /** Per-check deadline of one helper program in ms (nvidia-smi, apptainer, a CVMFS probe). */
  probeTimeouts?: Partial<Record<CheckName, number>>;
  /** Cancels every check (a pilot shutting down). */
  signal?: AbortSignal;
  /** The validators to run (default: all of agent/validators). */
  validators?: readonly Validator<any>[];
}

function missedResult(v: Validator<any>, req: Requirements, detail: string): CheckResult {
  const required = v.isRequired(req);
  return { name: v.name, status: required ? 'fail' : 'warn', value: null, required: null, detail, failure: required ? 'WN_Resource' : null };
}

export async function runValidation(options: RunValidationOptions = {}): Promise<ValidationReport> {
  const host = resolveHost({ ...options.host, ...(options.env ? { env: options.env } : {}) });
  const requirements = options.requirements ?? {};
  const workdir = resolve(options.workdir ?? process.cwd());
  const identityAccounts = options.identityAccounts ?? [];
  const validators = options.validators ?? VALIDATORS;
  const started = host.now();

  const runOne = async (v: Validator<any>): Promise<CheckOutcome> => {
    const t0 = host.now();
    const deadline = options.deadlines?.[v.name] ?? v.deadlineMs;
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let outcome: CheckOutcome;
    try {
      const missed = new Promise<'deadline' | 'aborted'>((res) => {
        timer = setTimeout(() => res('deadline'), deadline);
        controller.signal.addEventListener('abort', () => res('aborted'), { once: true });
        if (options.signal?.aborted) res('aborted');
      });
      const collected = v.collect({
        host, requirements, workdir, identityAccounts,
        ...(options.identityTest ? { identityTest: options.identityTest } : {}),
        ...(options.containerTestImage ? { containerTestImage: options.containerTestImage } : {}),
        signal: controller.signal,
        probeTimeoutMs: Math.min(options.probeTimeouts?.[v.name] ?? v.probeTimeoutMs, deadline),
      });
      const first = await Promise.race([collected.then((facts) => ({ facts })), missed]);
      if (first === 'deadline' || first === 'aborted') {
        collected.catch(() => undefined);
        controller.abort();
        outcome = { result: missedResult(v, requirements, first === 'deadline' ? `did not finish within ${deadline} ms` : 'cancelled') };
      } else {
        outcome = v.check(first.facts, requirements);
      }
    } catch (e) {
      outcome = { result: missedResult(v, requirements, `could not check: ${e instanceof Error ? e.message : String(e)}`) };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
    options.onCheck?.(outcome.result, { durationMs: Math.round(host.now() - t0) });
    return outcome;
  };

  const outcomes = await Promise.all(validators.map(runOne));
  const attributes: Record<string, AttributeValue> = {};
  for (const o of outcomes) Object.assign(attributes, o.attributes);
  const checks = outcomes.map((o) => o.result);
  return {
    status: checks.some((c) => c.status === 'fail') ? 'ERROR' : 'OK',
    durationMs: Math.round(host.now() - started),
    checks,
    attributes,
  };
}
