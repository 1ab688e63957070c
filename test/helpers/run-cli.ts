// Run the glidein CLI as a real process and collect what it printed.
import { spawn } from 'node:child_process';
import { EXE, CLI_TS, NODE } from './paths.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  /** Run the TypeScript source instead of the built executable. */
  source?: boolean;
  timeoutMs?: number;
  /** The signal sent at timeoutMs (default SIGTERM; SIGKILL for a process that may ignore SIGTERM). */
  killSignal?: NodeJS.Signals;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const [cmd, ...pre] = options.source ? [NODE, CLI_TS] : [EXE];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: options.killSignal ?? 'SIGTERM',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
