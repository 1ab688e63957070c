// Dead pilots' leftovers (issue 12 item 3): a pilot SIGKILLed (Slurm after KillWait, a node
// crash) leaves its work dir and cred.d; the next pilot under the same base removes them, and
// never touches the dir of a pilot that is alive. Real agent processes, plus record-level cases.
import { afterAll, describe, expect, it } from 'vitest';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf, waitFor } from '../fixtures/pilot/agent.ts';
import { LOCK_FILE, ownerState, removeDeadPilotsWorkdirs, selfRecord, writeWorkdirLock, type LockRecord } from '../../agent/pilot/workdir-lock.ts';
import { createLogger } from '../../shared/log.ts';
import { IS_ROOT } from '../helpers/accounts.ts';

const scenarios = pilotScenarios();
afterAll(() => scenarios.cleanup());

const payload = (started: string) => ['--', '/bin/sh', '-c', `echo $$ > ${started}.pid; touch ${started}; exec sleep 120`];
const killQuietly = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
};

describe('dead pilots\' work dirs', () => {
  it.concurrent('a pilot started after one was SIGKILLed removes the dead one\'s work dir and cred.d', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const first = startAgent(['--bundle', await s.bundlePath('g-killed'), '--workdir', work, '--failure-delay', '0', ...payload(join(dir, 'a'))]);
    await waitFor(join(dir, 'a'), 60_000, first);
    const [dead] = readdirSync(work);
    expect(existsSync(join(work, dead!, 'cred.d', 'pilot', 'refresh-token'))).toBe(true);
    first.child.kill('SIGKILL');
    await first.done;
    killQuietly(Number(readFileSync(join(dir, 'a.pid'), 'utf8')));
    expect(existsSync(join(work, dead!, 'cred.d'))).toBe(true);
    const second = await startAgent(['--bundle', await s.bundlePath('g-next'), '--workdir', work, '--failure-delay', '0', '--', '/bin/true']).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('removed the work dir of a dead pilot');
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.concurrent('a live pilot\'s work dir is never touched by another pilot under the same base', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const live = startAgent(['--bundle', await s.bundlePath('g-live'), '--workdir', work, '--failure-delay', '0', ...payload(join(dir, 'a'))]);
    await waitFor(join(dir, 'a'), 60_000, live);
    const [liveDir] = readdirSync(work);
    const other = await startAgent(['--bundle', await s.bundlePath('g-other'), '--workdir', work, '--failure-delay', '0', '--', '/bin/true']).done;
    expect(other.code, other.stderr).toBe(0);
    expect(readdirSync(work)).toEqual([liveDir]);
    expect(existsSync(join(work, liveDir!, 'cred.d', 'pilot', 'refresh-token'))).toBe(true);
    live.child.kill('SIGTERM');
    const r = await live.done;
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 0, reason: 'signal' });
  }, 90_000);
});

describe('ownerState and removeDeadPilotsWorkdirs', () => {
  const self = selfRecord();
  it.each<[string, Partial<LockRecord>, 'alive' | 'dead' | 'unknown']>([
    ['this very process', {}, 'alive'],
    ['the same pid with another start time (reused pid)', { start: self.start - 1 }, 'dead'],
    ['another boot id under this hostname (a container elsewhere sharing the name, or a reboot)', { boot: 'another-boot', start: 1 }, 'unknown'],
    ['a dead pid under another boot id', { boot: 'another-boot', start: self.start - 1 }, 'unknown'],
    ['another host on a shared file system', { host: 'elsewhere.example', boot: 'x' }, 'unknown'],
    ['another pid namespace (a container)', { pidns: 'pid:[1]', start: 1 }, 'unknown'],
    ['another uid', { uid: self.uid + 1, start: 1 }, 'unknown'],
  ])('judges %s', (_n, change, want) => {
    expect(ownerState({ ...self, ...change }, self)).toBe(want);
  });

  it('removes only our dead pilots\' dirs: not a live one, one without a record, a symlink, or another uid\'s', async () => {
    const base = scenarios.tempDir('glidein-stale-');
    const mk = (name: string, rec?: Partial<LockRecord>) => {
      const d = join(base, name);
      mkdirSync(d);
      mkdirSync(join(d, 'cred.d'));
      if (rec) writeWorkdirLock(d, { ...self, ...rec });
      return d;
    };
    const own = mk('glide_own', {});
    mk('glide_dead', { start: self.start - 1 });
    mk('glide_live', {});
    mk('glide_norecord');
    mk('glide_far', { host: 'elsewhere.example' });
    mk('glide_otherboot', { boot: 'another-boot', start: self.start - 1 });
    mk('glide_otherns', { pidns: 'pid:[1]', start: self.start - 1 });
    mk('other_dead', { start: self.start - 1 });
    const target = mk('target_dead', { start: self.start - 1 });
    symlinkSync(target, join(base, 'glide_link'));
    if (IS_ROOT) chownSync(mk('glide_foreign', { start: self.start - 1 }), 65534, 65534);
    writeFileSync(join(base, 'glide_file'), 'x');
    const lines: string[] = [];
    const log = createLogger({ format: 'json', level: 'debug', sink: { write: (l: string) => (lines.push(l), true) } });
    const removed = await removeDeadPilotsWorkdirs({ base, prefix: 'glide_', own, log });
    expect(removed).toEqual([join(base, 'glide_dead')]);
    const left = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'left a work dir whose owner is not provably dead');
    expect(left.map((l) => [String(l['dir']).slice(base.length + 1), l['reason']]).sort()).toEqual([
      ['glide_far', 'its owner ran on another host'],
      ['glide_norecord', 'no readable lock record'],
      ['glide_otherboot', expect.stringContaining('another boot id')],
      ['glide_otherns', 'its owner ran in another pid namespace'],
    ]);
    expect(readdirSync(base).sort()).toEqual(['glide_far', 'glide_file', 'glide_otherboot', 'glide_otherns', 'glide_link', 'glide_live', 'glide_norecord', 'glide_own', 'other_dead', 'target_dead', ...(IS_ROOT ? ['glide_foreign'] : [])].sort());
    expect(existsSync(join(target, LOCK_FILE))).toBe(true);
  });
});
