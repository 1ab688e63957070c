// Paths shared by tests: the repository root, the built executable, the TypeScript entry.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXE = join(ROOT, 'dist', 'glidein');
export const CLI_TS = join(ROOT, 'agent', 'cli.ts');
/** The Node 24 binary that runs the tests (the devDependency `node`). */
export const NODE = process.execPath;
