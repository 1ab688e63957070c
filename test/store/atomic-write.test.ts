import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile } from '../../agent/store/index.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import type { TestAccount } from '../helpers/accounts.ts';

const ACCOUNT = 'glstorewrite';
const WRITE_AS = join(import.meta.dirname, 'fixtures', 'write-as.ts');
let dir: string;
let other: TestAccount | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glstore-write-'));
  if (IS_ROOT) other = ensureAccount(ACCOUNT);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (IS_ROOT) removeAccount(ACCOUNT);
});

describe('atomicWriteFile', () => {
  it('creates the file 0600 even under a permissive umask', async () => {
    const p = join(dir, 'umask');
    const old = process.umask(0);
    try {
      await atomicWriteFile(p, 'secret');
    } finally {
      process.umask(old);
    }
    expect(statSync(p).mode & 0o7777).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toBe('secret');
  });

  it('applies an explicit mode exactly', async () => {
    const p = join(dir, 'mode');
    await atomicWriteFile(p, new Uint8Array([1, 2, 3]), { mode: 0o400 });
    expect(statSync(p).mode & 0o7777).toBe(0o400);
    expect([...readFileSync(p)]).toEqual([1, 2, 3]);
  });

  it('replaces the old content with a new file and leaves no temp file behind', async () => {
    const p = join(dir, 'replace');
    await atomicWriteFile(p, 'old');
    const before = statSync(p).ino;
    await atomicWriteFile(p, 'new');
    expect(readFileSync(p, 'utf8')).toBe('new');
    expect(statSync(p).ino).not.toBe(before);
    expect(readdirSync(dir).filter((n) => n.includes('replace'))).toEqual(['replace']);
  });

  it('does not follow a symlink planted where the credential will be written; the target stays untouched', async () => {
    const target = join(dir, 'victim');
    writeFileSync(target, 'do not touch', { mode: 0o644 });
    const p = join(dir, 'planted');
    symlinkSync(target, p);
    await atomicWriteFile(p, 'secret');
    expect(readFileSync(target, 'utf8')).toBe('do not touch');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(lstatSync(p).isSymbolicLink()).toBe(false);
    expect(readFileSync(p, 'utf8')).toBe('secret');
  });

  it('fails with GLIDEIN_ERR_STORE_IO when the target is a directory, and cleans up its temp file', async () => {
    const sub = join(dir, 'is-a-dir');
    mkdirSync(sub);
    await expect(atomicWriteFile(sub, 'secret')).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_IO' });
    expect(readdirSync(dir).filter((n) => n.includes('is-a-dir'))).toEqual(['is-a-dir']);
  });

  it('fails with GLIDEIN_ERR_STORE_IO naming the path when the directory does not exist', async () => {
    const p = join(dir, 'absent', 'x');
    await expect(atomicWriteFile(p, 'secret')).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_IO' });
    await expect(atomicWriteFile(p, 'secret')).rejects.toThrow(join(dir, 'absent'));
  });

  it.skipIf(!IS_ROOT)('gives the file to another account when asked (as root)', async () => {
    const p = join(dir, 'owned');
    await atomicWriteFile(p, 'theirs', { owner: { uid: other!.uid, gid: other!.gid } });
    const st = statSync(p);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([other!.uid, other!.gid, 0o600]);
  });

  it.skipIf(!IS_ROOT)('refuses, when not root, to give a file to another account, with a clear message', async () => {
    const own = join(dir, 'unprivileged');
    mkdirSync(own, { mode: 0o700 });
    chownSync(own, other!.uid, other!.gid);
    chmodSync(dir, 0o711);
    const { stdout } = await promisify(execFile)(process.execPath, [WRITE_AS, join(own, 'cred'), '0', '0'], {
      uid: other!.uid,
      gid: other!.gid,
    });
    const out = JSON.parse(stdout) as { ok: boolean; code?: string; message?: string };
    expect(out.ok).toBe(false);
    expect(out.code).toBe('GLIDEIN_ERR_STORE_IO');
    expect(out.message).toMatch(new RegExp(`runs as uid ${other!.uid}, not root`));
    expect(readdirSync(own)).toEqual([]);
  });
});
