// How to start this same program again (the sandbox starts `glidein wrapper` under the target
// identity): the single executable itself, the bundle, or the TypeScript entry in development.
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export function selfCommand(): string[] {
  if (isSea()) return [process.execPath];
  const here = fileURLToPath(import.meta.url);
  // Bundled: import.meta.url is the bundle itself (dist/glidein.cjs).
  if (here.endsWith('.cjs')) return [process.execPath, here];
  return [process.execPath, join(dirname(here), '..', 'agent', 'cli.ts')];
}
