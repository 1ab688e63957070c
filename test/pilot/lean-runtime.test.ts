// The lean agent runtime (agent/pilot/lean-runtime.ts): once switched, V8 no longer optimizes
// a hot function; without the switch the same function is optimized (so the test can fail).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const leanRuntime = fileURLToPath(new URL('../../agent/pilot/lean-runtime.ts', import.meta.url));

// %GetOptimizationStatus bit 4 (16): the function is optimized (TurboFan or Maglev).
function optimizedAfterHotLoop(lean: boolean): boolean {
  const script = `
    import { useLeanRuntime } from ${JSON.stringify(leanRuntime)};
    if (${lean}) useLeanRuntime();
    function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }
    %PrepareFunctionForOptimization(hot);
    hot(10); hot(10);
    %OptimizeFunctionOnNextCall(hot);
    hot(10);
    process.stdout.write(String((%GetOptimizationStatus(hot) & 16) !== 0));`;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' }) === 'true';
}

describe('lean agent runtime', () => {
  it('a hot function is optimized by default', () => {
    expect(optimizedAfterHotLoop(false)).toBe(true);
  });

  it('after useLeanRuntime a hot function stays in the interpreter', () => {
    expect(optimizedAfterHotLoop(true)).toBe(false);
  });
});
