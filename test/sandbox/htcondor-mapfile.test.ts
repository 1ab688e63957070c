// glidein's mapfile reader against HTCondor's own answers (htcondor-mapfile-table.ts, measured
// with HTCondor's MapFile through userMap): every row, every identity, from real files on disk
// (so @include reads real files and directories).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadMapfile, mapIdentity, type Mapfile } from '../../agent/sandbox/mapfile.ts';
import { TABLE, MEASURED, type TableRow } from './htcondor-mapfile-table.ts';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'glidein-mapfile-table-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function load(row: TableRow, i: number): Promise<Mapfile> {
  const dir = join(root, String(i));
  mkdirSync(dir);
  writeFileSync(join(dir, 'mapfile'), row.mapfile);
  for (const [rel, text] of Object.entries(row.files ?? {})) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return loadMapfile(join(dir, 'mapfile'));
}

describe(`mapfiles as HTCondor ${MEASURED.htcondor} reads them (measured ${MEASURED.date})`, () => {
  it('the table has at least 40 rows and 100 identities', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(40);
    expect(TABLE.reduce((n, r) => n + r.cases.length, 0)).toBeGreaterThanOrEqual(100);
  });

  it.each(TABLE.map((row, i) => [row.name, row, i] as const))('%s', async (_name, row, i) => {
    const g = row.glidein;
    if (g && 'refuses' in g) {
      await expect(load(row, i)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_POLICY', message: expect.stringContaining(g.refuses) });
      return;
    }
    const mapfile = await load(row, i);
    const got = row.cases.map(([iss, sub]) => mapIdentity(mapfile, iss, sub));
    const want = g ? g.answers : row.cases.map((c) => c[2]);
    expect(got).toEqual(want);
    if (row.logged !== undefined) expect(mapfile.warnings.length).toBeGreaterThan(0);
  });
});
