import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeReadFile } from '../../agent/store/index.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import type { TestAccount } from '../helpers/accounts.ts';

const ACCOUNT = 'glstoreread';
let dir: string;
let other: TestAccount | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glstore-read-'));
  if (IS_ROOT) other = ensureAccount(ACCOUNT);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (IS_ROOT) removeAccount(ACCOUNT);
});

function file(name: string, content: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );
}

describe('safeReadFile', () => {
  it('reads a 0600 file owned by this process', async () => {
    const p = file('good', 'secret-value');
    expect((await safeReadFile(p)).toString()).toBe('secret-value');
  });

  it.each([
    ['group-readable', 0o640],
    ['group-writable', 0o620],
    ['other-readable', 0o604],
    ['group-executable', 0o610],
  ])('refuses a %s file with GLIDEIN_ERR_STORE_UNSAFE naming the file and its mode', async (label, mode) => {
    const p = file(`perm-${label}`, 'secret', mode);
    await expect(safeReadFile(p)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    await expect(safeReadFile(p)).rejects.toThrow(`${p}: has mode 0${mode.toString(8)}`);
  });

  it('refuses a symlink to a valid credential without following it', async () => {
    const target = file('target', 'secret');
    const link = join(dir, 'link');
    symlinkSync(target, link);
    await expect(safeReadFile(link)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    await expect(safeReadFile(link)).rejects.toThrow(/is a symlink/);
  });

  it('refuses a FIFO instead of hanging on it', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(await codeOf(safeReadFile(fifo))).toBe('GLIDEIN_ERR_STORE_UNSAFE');
  });

  it('refuses a file owned by another uid than expected', async () => {
    const p = file('mine', 'secret');
    expect(await codeOf(safeReadFile(p, { expectedUid: (process.geteuid?.() ?? 0) + 1 }))).toBe('GLIDEIN_ERR_STORE_UNSAFE');
  });

  it.skipIf(!IS_ROOT)('refuses a file owned by a real second account, and reads it when that owner is expected', async () => {
    const p = file('foreign', 'theirs');
    chownSync(p, other!.uid, other!.gid);
    await expect(safeReadFile(p)).rejects.toThrow(`is owned by uid ${other!.uid}, expected uid 0`);
    expect((await safeReadFile(p, { expectedUid: other!.uid })).toString()).toBe('theirs');
  });

  it('reports a missing file as GLIDEIN_ERR_STORE_IO', async () => {
    expect(await codeOf(safeReadFile(join(dir, 'absent')))).toBe('GLIDEIN_ERR_STORE_IO');
  });

  it('refuses a directory', async () => {
    expect(await codeOf(safeReadFile(dir))).toBe('GLIDEIN_ERR_STORE_UNSAFE');
  });
});
