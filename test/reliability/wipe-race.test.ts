// A live process of a job's mapped account races the wipe of its job dir (issue 11, item 3): it
// loops swapping its own subdirectories for symlinks to a root-owned directory outside, which
// holds a file with the same name as the files inside. A path-based removal by root (fs.rm, as
// the store did) then lists or unlinks through the symlink and deletes the outside file; the
// descriptor-relative removal never does. Root only (a real account).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { traversableTempDir } from './fixture.ts';
import { join } from 'node:path';
import { CredStore } from '../../agent/store/index.ts';
import { removeDeadPilotsWorkdirs, selfRecord, writeWorkdirLock } from '../../agent/pilot/workdir-lock.ts';
import { createLogger } from '../../shared/log.ts';
import { IS_ROOT, ensureAccount, removeAccount, type TestAccount } from '../helpers/accounts.ts';
import { skipWithoutTool } from '../helpers/system-tools.ts';

const ACCOUNT = 'glwiperace';
const TRIALS = 10;
const SUBDIRS = 40;

// Run by the account with its cwd in its own subdirectory of the job dir (a cwd survives the
// wipe taking the job dir back): make s<i>/victim, then flip every s<i> to a symlink and back.
const FLIPPER = `
use strict; my ($n, $out) = @ARGV; $| = 1;
for my $i (0 .. $n - 1) { mkdir "s$i"; open(my $f, '>', "s$i/victim") or die "s$i: $!"; close $f; }
print "ready\\n";
while (1) {
  for my $i (0 .. $n - 1) { rename "s$i", "r$i"; symlink $out, "s$i"; }
  for my $i (0 .. $n - 1) { unlink "s$i"; rename "r$i", "s$i"; }
}`;

const dirs: string[] = [];
afterAll(() => {
  if (IS_ROOT) removeAccount(ACCOUNT);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function startFlipper(user: TestAccount, cwd: string, outside: string): Promise<ChildProcess> {
  const p = spawn('perl', ['-e', FLIPPER, String(SUBDIRS), outside], { cwd, uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', (code) => reject(new Error(`the flipper exited early (code ${code})`)));
    p.stdout!.once('data', () => resolve(p));
  });
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

/** A temp base the account can traverse, with a root-owned dir outside the one being removed and the file in it that must survive. */
function raceBase(prefix: string): { base: string; outside: string; victim: string } {
  const base = traversableTempDir(prefix, dirs);
  const outside = join(base, 'outside');
  mkdirSync(outside, { mode: 0o755 });
  return { base, outside, victim: join(outside, 'victim') };
}

const skip = !IS_ROOT || skipWithoutTool('perl', 'install perl (the flipping process of the account is a perl loop)');

describe.skipIf(skip)('wiping a job dir while a process of its account flips symlinks in it (real account)', () => {
  it('a symlink flipped in during the wipe never makes root delete a file outside the job dir', async () => {
    const user = ensureAccount(ACCOUNT);
    const { base, outside, victim } = raceBase('glrel-wipe-');
    const work = join(base, 'work');
    mkdirSync(work, { mode: 0o711 });
    const store = await CredStore.open(work);
    const deleted: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      writeFileSync(victim, 'root-owned, outside the job dir', { mode: 0o644 });
      const id = `race-${trial}`;
      const jobDir = await store.createJobDir(id, { uid: user.uid, gid: user.gid });
      await store.writeJobCredential(id, 'bearer', 'token', null);
      const own = join(jobDir, 'a');
      mkdirSync(own, { mode: 0o700 });
      chownSync(own, user.uid, user.gid);
      const flipper = await startFlipper(user, own, outside);
      try {
        // With the flipper alive the wipe may fail (it keeps refilling its dir); it must not escape.
        await store.wipe(id).catch(() => undefined);
      } finally {
        await stop(flipper);
      }
      if (!existsSync(victim)) deleted.push(trial);
      await store.wipe(id);
      expect(existsSync(jobDir)).toBe(false);
    }
    expect(deleted, `trials in which the wipe deleted ${victim}`).toEqual([]);
  }, 120_000);

  // A pilot killed by SIGKILL leaves its work dir, and its payloads may live on; the next pilot
  // on the node removes that dir at start (removeDeadPilotsWorkdirs), as root. It used fs.rmSync.
  it("a symlink flipped in while the next pilot removes a dead pilot's work dir never makes root delete a file outside it", async () => {
    const user = ensureAccount(ACCOUNT);
    const { base, outside, victim } = raceBase('glrel-deadpilot-');
    const self = selfRecord();
    const silent = createLogger({ format: 'json', level: 'error', sink: { write: () => true } });
    const deleted: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      writeFileSync(victim, 'root-owned, outside the work dir', { mode: 0o644 });
      const dead = join(base, `glide_dead${trial}`);
      mkdirSync(dead, { mode: 0o711 });
      writeWorkdirLock(dead, { ...self, start: self.start - 1 });
      const store = await CredStore.open(dead);
      const jobDir = await store.createJobDir('job', { uid: user.uid, gid: user.gid });
      const own = join(jobDir, 'a');
      mkdirSync(own, { mode: 0o700 });
      chownSync(own, user.uid, user.gid);
      const flipper = await startFlipper(user, own, outside);
      try {
        await removeDeadPilotsWorkdirs({ base, prefix: 'glide_', own: join(base, 'glide_own'), log: silent });
      } finally {
        await stop(flipper);
      }
      if (!existsSync(victim)) deleted.push(trial);
      await removeDeadPilotsWorkdirs({ base, prefix: 'glide_', own: join(base, 'glide_own'), log: silent });
      expect(existsSync(dead)).toBe(false);
    }
    expect(deleted, `trials in which the removal deleted ${victim}`).toEqual([]);
  }, 120_000);
});
