// 'refresh-service serve' as a real process for command tests: started with the given flags
// (optionally as another account), it either prints its URL line or exits; nothing waits on time.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI_TS, NODE } from '../../helpers/paths.ts';

export interface ServeProcess {
  child: ChildProcess;
  /** The URL from its first stdout line; undefined when it exited first. */
  url: string | undefined;
  /** The exit code when it exited before listening. */
  code: number | null;
  stderr(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export interface ServeOptions {
  uid?: number;
  gid?: number;
}

export function startServe(args: string[], options: ServeOptions = {}): Promise<ServeProcess> {
  const child = spawn(NODE, [CLI_TS, 'refresh-service', 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url, code: null, stderr: () => err, stop });
    });
    void exited.then((code) => resolve({ child, url: undefined, code, stderr: () => err, stop }));
  });
}
