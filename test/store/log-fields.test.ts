// Log field names keep one meaning (issue 27 section 2): `entry` is always the factory entry (as
// the pilot and the refresh service log it); a credential's place in the store is `storePath`.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredStore } from '../../agent/store/index.ts';
import { createLogger } from '../../shared/log.ts';
import { ROOT } from '../helpers/paths.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('log field names', () => {
  it('the store logs where a credential went as storePath, never as entry', async () => {
    const lines: string[] = [];
    const sink = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WritableStream;
    const work = mkdtempSync(join(tmpdir(), 'gllogfields-'));
    dirs.push(work);
    const store = await CredStore.open(work, { log: createLogger({ format: 'json', level: 'debug', sink }) });
    await store.writePilot('refresh', 'rt-secret', null);
    const stored = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'credential stored');
    expect(stored).toEqual([expect.objectContaining({ storePath: 'pilot/refresh' })]);
    expect(stored[0]).not.toHaveProperty('entry');
    await store.wipeAll();
  });

  it('no log call in the agent, service or shared code gives entry anything but a factory entry', () => {
    const bad: string[] = [];
    for (const file of ['agent', 'refresh-service', 'shared'].flatMap((d) => sourceFiles(join(ROOT, d)))) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        // A log call's `entry:` field must come from an entry name (bundle.entry, info.entry, f.entry …).
        const m = /\.(?:debug|info|warn|error|security)\(.*[{,]\s*entry:\s*([^,}]+)/.exec(line);
        if (m && !/(^|\.)entry$|^target$/.test(m[1]!.trim())) bad.push(`${file.slice(ROOT.length + 1)}:${i + 1}: entry: ${m[1]!.trim()}`);
      });
    }
    expect(bad).toEqual([]);
  });
});
