// tty payloads (DESIGN.md section 7.8): node-pty, loaded only when a tty job asks for it. In the
// single executable its addon is an SEA asset (pty-native.ts). A node-pty that cannot load
// makes a tty job held with PTY_UNAVAILABLE; everything else works without it.
import type { IPty } from 'node-pty';

export type PtyModule = { spawn: (file: string, args: string[], options: Record<string, unknown>) => IPty };
let cached: Promise<PtyModule | Error> | undefined;

export function loadPty(): Promise<PtyModule | Error> {
  cached ??= import('node-pty').then(
    (m) => ((m as unknown as { default?: PtyModule }).default ?? (m as unknown as PtyModule)),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  return cached;
}

export type { IPty };
