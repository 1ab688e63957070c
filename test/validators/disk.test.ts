import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disk, checkDisk } from '../../agent/validators/disk.ts';
import { collectContext, fixtureHost } from '../validate/fixture.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-disk-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('disk', () => {
  it('reports the work directory\'s free space as statfs sees it, and /tmp writable', async () => {
    const host = fixtureHost('bare', {}, { tmpDir: dir });
    const facts = await disk.collect(collectContext(host, { workdir: dir }));
    const s = statfsSync(dir);
    expect(facts.tmpWritable).toBe(true);
    // Free space moves as other processes write; it is the same file system and order of size.
    expect(Math.abs(facts.freeBytes! - s.bavail * s.bsize)).toBeLessThan(2 ** 30);
    expect(disk.check(facts, {}).result).toMatchObject({ name: 'disk', status: 'pass', failure: null });
  });

  it('fails with WN_Resource when the work dir has less free space than required', async () => {
    const facts = await disk.collect(collectContext(fixtureHost('bare', {}, { tmpDir: dir }), { workdir: dir }));
    const { result } = disk.check(facts, { disk: facts.freeBytes! * 2 });
    expect(result).toMatchObject({ status: 'fail', failure: 'WN_Resource', required: facts.freeBytes! * 2 });
  });

  it('fails with WN_Resource when the temporary directory does not accept a new dir', async () => {
    const facts = await disk.collect(collectContext(fixtureHost('bare', {}, { tmpDir: join(dir, 'missing') }), { workdir: dir }));
    const { result, attributes } = disk.check(facts, {});
    expect(result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
    expect(result.detail).toMatch(/^Cannot create a dir in .*missing/);
    expect(attributes?.GLIDEIN_TMP_WRITABLE).toBe(false);
  });

  it('warns below GlideinWMS\'s 1 GB default when nothing was required, and fails when statfs fails', () => {
    const base = { workdir: '/w', totalBytes: 1e10, workdirError: null, tmpDir: '/tmp', tmpWritable: true, tmpError: null };
    expect(checkDisk({ ...base, freeBytes: 5e8 }, {}).result.status).toBe('warn');
    expect(checkDisk({ ...base, freeBytes: 5e8 }, { disk: 1e8 }).result.status).toBe('pass');
    expect(checkDisk({ ...base, freeBytes: null, workdirError: 'ENOENT' }, {}).result).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
  });
});
