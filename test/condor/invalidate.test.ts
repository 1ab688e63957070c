// The startd invalidation finds condor_advertise where a stock HTCondor install has it (sbin/),
// or in bin/, and runs it (a tiny fixture program that records its arguments): issue 27 section 2.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCondorAdvertise, invalidateStartdAds } from '../../agent/condor/invalidate.ts';
import { createLogger } from '../../shared/log.ts';

let root: string;
const sbin = () => join(root, 'sbin');
const bin = () => join(root, 'bin');

/** A condor_advertise in `dir` that appends "<dir> <args>" to root/calls. */
function fakeAdvertise(dir: string): void {
  writeFileSync(join(dir, 'condor_advertise'), `#!/bin/sh\necho "${dir} $*" >> "${join(root, 'calls')}"\n`);
  chmodSync(join(dir, 'condor_advertise'), 0o755);
}

function invalidate(lines: string[]) {
  const sink = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WritableStream;
  return invalidateStartdAds({ sbin: sbin(), bin: bin(), configFile: join(root, 'condor_config'), dir: root, daemon: 'glidein_g1', env: { PATH: '/usr/bin:/bin' }, log: createLogger({ format: 'json', sink }) });
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'glinvalidate-'));
  mkdirSync(sbin());
  mkdirSync(bin());
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the startd invalidation', () => {
  it('runs condor_advertise from sbin/, as a stock install has it', async () => {
    fakeAdvertise(sbin());
    expect(await invalidate([])).toBe(true);
    const calls = readFileSync(join(root, 'calls'), 'utf8').trim().split('\n');
    expect(calls).toEqual([`${sbin()} INVALIDATE_STARTD_ADS ${join(root, 'invalidate-Machine.ad')}`, `${sbin()} INVALIDATE_STARTD_ADS ${join(root, 'invalidate-StartD.ad')}`]);
  });

  it('falls back to bin/, and prefers sbin/ when both have one', async () => {
    fakeAdvertise(bin());
    expect(findCondorAdvertise([sbin(), bin()])).toBe(join(bin(), 'condor_advertise'));
    expect(await invalidate([])).toBe(true);
    expect(readFileSync(join(root, 'calls'), 'utf8')).toContain(`${bin()} INVALIDATE_STARTD_ADS`);
    fakeAdvertise(sbin());
    expect(findCondorAdvertise([sbin(), bin()])).toBe(join(sbin(), 'condor_advertise'));
  });

  it('says where it looked when neither has one, and runs nothing', async () => {
    const lines: string[] = [];
    expect(await invalidate(lines)).toBe(false);
    expect(existsSync(join(root, 'calls'))).toBe(false);
    const warn = JSON.parse(lines.find((l) => l.includes('no condor_advertise'))!) as { looked: string[] };
    expect(warn.looked).toEqual([sbin(), bin()]);
  });
});
