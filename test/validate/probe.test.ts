import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runProbe } from '../../agent/validate/probe.ts';

/** Running or sleeping; a zombie (dead, waiting for a reaper that may not exist here) is not alive. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

describe('out-of-process probe', () => {
  it('collects exit code and output of a helper that finishes', async () => {
    const r = await runProbe('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false, unreaped: false, spawnError: null });
  });

  it('kills the whole process group at the deadline', async () => {
    const r = await runProbe('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    const grandchild = Number(r.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    // The background sleep was in the group: it is gone too (allow the kernel a moment to reap).
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((res) => setTimeout(res, 10));
    expect(alive(grandchild)).toBe(false);
  });

  it('answers after a short bound when the killed helper cannot be reaped, instead of waiting for it', async () => {
    // A process in another session keeps the output pipe open, so "close" never comes after the
    // kill — the same shape as a prober stuck in uninterruptible sleep.
    const r = await runProbe('/bin/sh', ['-c', 'setsid sh -c \'echo $$; exec sleep 20\' & sleep 20'], { timeoutMs: 300, reapBoundMs: 100 });
    expect(r).toMatchObject({ timedOut: true, unreaped: true });
    const stray = Number(r.stdout.trim());
    expect(alive(stray)).toBe(true);
    process.kill(stray, 'SIGKILL');
  });

  it('stops at once when the caller aborts', async () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 50);
    const r = await runProbe('/bin/sleep', ['30'], { timeoutMs: 30_000, signal: c.signal });
    expect(r.timedOut).toBe(true);
  });

  it('reports a program that cannot be started', async () => {
    const r = await runProbe('/nonexistent/tool', [], { timeoutMs: 1000 });
    expect(r.code).toBeNull();
    expect(r.spawnError).toMatch(/ENOENT/);
  });
});
