// Work dir selection like GlideinWMS AUTO.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectWorkdir } from '../../agent/pilot/workdir.ts';

const root = mkdtempSync(join(tmpdir(), 'glidein-workdir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dir = (name: string) => {
  const p = join(root, name);
  mkdirSync(p, { recursive: true });
  return p;
};

describe('selectWorkdir', () => {
  it('prefers _CONDOR_SCRATCH_DIR over TMPDIR and makes a private 0711 directory inside it', () => {
    const scratch = dir('scratch');
    const w = selectWorkdir({ env: { _CONDOR_SCRATCH_DIR: scratch, TMPDIR: dir('tmp') }, minFreeBytes: 1 });
    expect(w.source).toBe('_CONDOR_SCRATCH_DIR');
    expect(w.dir.startsWith(scratch + '/glide_')).toBe(true);
    expect(statSync(w.dir).mode & 0o777).toBe(0o711);
  });

  it.each([
    ['missing', () => join(root, 'absent')],
    ['a file', () => {
      writeFileSync(join(root, 'afile'), '');
      return join(root, 'afile');
    }],
  ])('skips a candidate that is %s', (_n, bad) => {
    const w = selectWorkdir({ env: { _CONDOR_SCRATCH_DIR: bad(), TMPDIR: dir('tmp2') }, minFreeBytes: 1 });
    expect(w.source).toBe('TMPDIR');
  });

  it('skips candidates without enough free space and says why when none is left', () => {
    const small = dir('small');
    expect(() => selectWorkdir({ env: { _CONDOR_SCRATCH_DIR: small }, minFreeBytes: 2 ** 60 })).toThrow(
      expect.objectContaining({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringMatching(new RegExp(`_CONDOR_SCRATCH_DIR=${small} has \\d+ bytes free.*/tmp has`)) }),
    );
  });

  it('refuses an unusable --workdir with GLIDEIN_ERR_CONFIG naming it', () => {
    expect(() => selectWorkdir({ flag: join(root, 'nope'), env: {} })).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining('--workdir') }));
  });
});
