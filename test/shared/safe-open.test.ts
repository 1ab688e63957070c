import { describe, expect, it, afterAll } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSafely, readFileSafelySync, safeOpenProblem } from '../../shared/safe-open.ts';

const dir = mkdtempSync(join(tmpdir(), 'glidein-safe-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const o = { code: 'GLIDEIN_ERR_KEY_FILE', what: 'key file', maxBytes: 16 } as const;

describe('safe-open', () => {
  it('reads a regular file, synchronously or not, and follows a symlink unless told not to', async () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'abc', { mode: 0o600 });
    symlinkSync(f, join(dir, 'link'));
    expect((await readFileSafely(f, o)).toString()).toBe('abc');
    expect(readFileSafelySync(join(dir, 'link'), o).toString()).toBe('abc');
    await expect(readFileSafely(join(dir, 'link'), { ...o, noFollow: true })).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE', message: expect.stringMatching(/key file .*\/link is a symbolic link/) });
  });

  it('refuses group/other bits, a foreign owner, an empty file and a file grown past the bound, naming the problem', async () => {
    const f = join(dir, 'g');
    writeFileSync(f, 'x');
    chmodSync(f, 0o640);
    const e = await readFileSafely(f, { ...o, privateMode: true, unsafeCode: 'GLIDEIN_ERR_STORE_UNSAFE' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE', message: expect.stringContaining('has mode 0640') });
    expect(safeOpenProblem(e)).toBe('mode');
    expect(() => readFileSafelySync(f, { ...o, owners: [process.getuid!() + 1] })).toThrow(/is owned by uid \d+; expected uid/);
    writeFileSync(join(dir, 'empty'), '');
    expect(() => readFileSafelySync(join(dir, 'empty'), { ...o, nonEmpty: true })).toThrow(/is empty/);
    writeFileSync(join(dir, 'big'), 'x'.repeat(17));
    expect(safeOpenProblem(await readFileSafely(join(dir, 'big'), o).catch((x: unknown) => x))).toBe('too-large');
    expect(safeOpenProblem(await readFileSafely(join(dir, 'none'), o).catch((x: unknown) => x))).toBe('missing');
  });
});
