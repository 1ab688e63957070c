// Runs a helper program (nvidia-smi, apptainer, unshare, the CVMFS probe) out of process under a
// hard deadline. At the deadline the whole process group gets SIGKILL and we wait only a short
// bound for the exit: a child stuck in uninterruptible sleep on a hung autofs/FUSE mount cannot
// be reaped, and must not hang validation or hold the event loop open (it is unref'd).
import { spawn } from 'node:child_process';

export interface ProbeOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Largest stdout/stderr kept, in bytes (the rest is dropped). */
  maxOutput?: number;
  /** How long to wait for the exit after SIGKILL before giving up on the child. */
  reapBoundMs?: number;
  /** Called with the child's pid once it started (tests use it to check the kill). */
  onSpawn?: (pid: number) => void;
}

export interface ProbeResult {
  /** Exit code, or null when killed or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The deadline passed (or the caller aborted) and the group was sent SIGKILL. */
  timedOut: boolean;
  /** The child did not exit within the reap bound after SIGKILL (uninterruptible sleep). */
  unreaped: boolean;
  /** Spawning failed (ENOENT, EACCES …). */
  spawnError: string | null;
  durationMs: number;
}

export function runProbe(file: string, args: readonly string[], options: ProbeOptions): Promise<ProbeResult> {
  const start = performance.now();
  const max = options.maxOutput ?? 256 * 1024;
  const reapBound = options.reapBoundMs ?? 100;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let reapTimer: NodeJS.Timeout | undefined;
    const finish = (partial: Partial<ProbeResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(reapTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        code: null, signal: null, stdout, stderr, timedOut, unreaped: false, spawnError: null,
        durationMs: Math.round(performance.now() - start), ...partial,
      });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, {
        env: options.env ?? { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Own process group: the kill reaches grandchildren (a shell's children) too.
        detached: true,
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, unreaped: false, spawnError: String((e as Error).message), durationMs: 0 });
      return;
    }
    const kill = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
      }
    };
    const giveUp = () => {
      timedOut = true;
      kill();
      // Stop waiting on it: pipes closed, handle unref'd, answer now after a short bound.
      reapTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        child.unref();
        finish({ unreaped: true });
      }, reapBound);
    };
    const onAbort = () => giveUp();
    const deadline = setTimeout(giveUp, options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) giveUp();
    child.on('spawn', () => { if (child.pid !== undefined) options.onSpawn?.(child.pid); });
    child.stdout?.on('data', (d: Buffer) => { if (stdout.length < max) stdout += d.toString('utf8'); });
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < max) stderr += d.toString('utf8'); });
    child.on('error', (e) => finish({ spawnError: e.message }));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
}
