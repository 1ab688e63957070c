// Loading node-pty's native addon. In the single executable the addon travels as an SEA asset:
// it is written to a private (0700) temporary directory, loaded with process.dlopen, and the
// file and directory are removed at once (the mapping stays valid). The build points node-pty's
// own `./utils` at this module, so node-pty's `loadNativeModule('pty')` lands here.
import { isSea, getAsset } from 'node:sea';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export function assign(target: Record<string, unknown>, ...sources: Record<string, unknown>[]): Record<string, unknown> {
  for (const s of sources) for (const k of Object.keys(s)) target[k] = s[k];
  return target;
}

export function loadNativeModule(name: string): { dir: string; module: unknown } {
  if (!isSea()) {
    const req = createRequire(join(process.cwd(), 'noop.js'));
    return { dir: '', module: req(`node-pty/build/Release/${name}.node`) };
  }
  const bytes = Buffer.from(getAsset(`${name}.node`));
  const dir = mkdtempSync(join(tmpdir(), 'glidein-pty-'));
  const file = join(dir, `${name}.node`);
  try {
    writeFileSync(file, bytes, { mode: 0o700, flag: 'wx' });
    const mod = { exports: {} as unknown };
    process.dlopen(mod, file);
    return { dir, module: mod.exports };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
