import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { runValidation } from '../../agent/validate/index.ts';
import { defineValidator, type Validator } from '../../agent/validate/validator.ts';
import type { CheckResult } from '../../agent/validate/types.ts';

const pass = (name: 'cores' | 'memory'): Validator<number> => defineValidator({
  name, deadlineMs: 1000, probeTimeoutMs: 0, isRequired: () => false,
  collect: async () => 1,
  check: (n) => ({ result: { name, status: 'pass', value: n, required: null, detail: 'ok', failure: null }, attributes: { [`A_${name}`]: n } }),
});

const hangs = (required: boolean): Validator<never> => defineValidator({
  name: 'cvmfs', deadlineMs: 100, probeTimeoutMs: 0, isRequired: () => required,
  collect: () => new Promise<never>(() => {}),
  check: () => { throw new Error('unreachable'); },
});

describe('runner', () => {
  it('runs every check to the end and collects every result, even when one misses its deadline', async () => {
    const seen: string[] = [];
    const report = await runValidation({ validators: [pass('cores'), hangs(false), pass('memory')], onCheck: (r) => seen.push(r.name) });
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([['cores', 'pass'], ['cvmfs', 'warn'], ['memory', 'pass']]);
    expect(report.checks[1]!.detail).toBe('did not finish within 100 ms');
    expect(report.status).toBe('OK');
    expect(report.attributes).toEqual({ A_cores: 1, A_memory: 1 });
    expect(seen.sort()).toEqual(['cores', 'cvmfs', 'memory']);
  });

  it('a check with a requirement that misses its deadline fails with WN_Resource', async () => {
    const report = await runValidation({ validators: [hangs(true)], deadlines: { cvmfs: 50 } });
    expect(report.status).toBe('ERROR');
    expect(report.checks[0]).toMatchObject({ status: 'fail', failure: 'WN_Resource', detail: 'did not finish within 50 ms' });
  });

  it('a collector that throws becomes a result naming the error, not a crash', async () => {
    const broken = defineValidator<number>({ ...pass('cores'), collect: async () => { throw new Error('EIO reading /proc'); } });
    const report = await runValidation({ validators: [broken] });
    expect(report.checks[0]).toMatchObject({ status: 'warn', detail: 'could not check: EIO reading /proc' });
  });

  it('cancels every check when the caller aborts', async () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 30);
    const report = await runValidation({ validators: [{ ...hangs(false), deadlineMs: 10_000 }], signal: c.signal });
    expect(report.checks[0]!.detail).toBe('cancelled');
  });

  it('on this machine runs all nine checks, in order, and passes with no requirements', async () => {
    const results: CheckResult[] = [];
    const report = await runValidation({ onCheck: (r) => results.push(r) });
    expect(report.checks.map((c) => c.name)).toEqual(['cores', 'memory', 'disk', 'gpu', 'cvmfs', 'container', 'os', 'permissions', 'identity']);
    expect(results).toHaveLength(9);
    expect(report.status).toBe('OK');
    expect(report.checks.some((c) => c.status === 'fail')).toBe(false);
    expect(report.attributes.GLIDEIN_CPUS).toBe(report.checks[0]!.value);
    expect(report.checks[0]!.value).toBeLessThanOrEqual(availableParallelism());
  });
});
