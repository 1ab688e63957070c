import { describe, expect, it, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile } from '../../shared/json-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'glidein-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const opts = { code: 'GLIDEIN_ERR_POLICY', what: 'policy file', maxBytes: 64, object: true } as const;

describe('reading a user-given JSON file', () => {
  it('returns the parsed value', async () => {
    expect(await readJsonFile(file('ok.json', '{"identity":"none"}'), opts)).toEqual({ identity: 'none' });
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.json'), /policy file .*missing\.json does not exist \(ENOENT\)/],
    ['a file over the size bound', () => file('big.json', `{"a":"${'x'.repeat(100)}"}`), /is larger than 64 bytes/],
    ['broken JSON', () => file('bad.json', '{'), /is not valid JSON/],
    ['an array where an object is expected', () => file('arr.json', '[1]'), /expected a JSON object/],
  ])('refuses %s with the caller\'s code, naming the file', async (_what, path, message) => {
    const p = path();
    await expect(readJsonFile(p, opts)).rejects.toThrow(message);
    await expect(readJsonFile(p, opts)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_POLICY' });
  });
});
