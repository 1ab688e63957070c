// createFileExclusively: a new 0600 file appears whole or not at all; an existing one is never
// replaced; a failure names the file and the errno and leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileExclusively } from '../../shared/exclusive-create.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glidein-excl-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('createFileExclusively', () => {
  it('creates a 0600 file with the content and no temp file beside it', async () => {
    const p = join(dir, 'a.jwk');
    expect(await createFileExclusively(p, 'one\n', { what: 'test file' })).toBe(true);
    expect(await readFile(p, 'utf8')).toBe('one\n');
    expect((await stat(p)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['a.jwk']);
  });

  it('returns false and keeps the existing content when the file is there', async () => {
    const p = join(dir, 'b');
    await writeFile(p, 'old');
    expect(await createFileExclusively(p, 'new', { what: 'test file' })).toBe(false);
    expect(await readFile(p, 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['a.jwk', 'b']);
  });

  it('a failure throws the given code naming the file and errno', async () => {
    const p = join(dir, 'missing-dir', 'c');
    await expect(createFileExclusively(p, 'x', { what: 'admin token' })).rejects.toMatchObject({
      code: 'GLIDEIN_ERR_STATE',
      details: { path: p, errno: 'ENOENT' },
      message: expect.stringContaining(`cannot write admin token ${p}`),
    });
    await expect(createFileExclusively(p, 'x', { what: 'key', code: 'GLIDEIN_ERR_KEY_FILE' })).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
  });
});
