// The startd's final state for the pilot's summary, read from its StartLog.
import { describe, it, expect } from 'vitest';
import { parseStartdLog } from '../../agent/condor/startd-log.ts';

describe('the startd final state from its log', () => {
  it('follows state and activity changes to the last one and reads the exit status', () => {
    const log = [
      '11/30/26 06:10:01.123 slot1: Changing state: Owner -> Unclaimed',
      '11/30/26 06:10:05.456 slot1_1: Changing state and activity: Unclaimed/Idle -> Claimed/Idle',
      '11/30/26 06:10:06.000 slot1_1: Changing activity: Idle -> Busy',
      '11/30/26 06:11:00.000 slot1_1: Changing state and activity: Claimed/Busy -> Preempting/Vacating',
      '11/30/26 06:11:02.000 slot1_1: Changing state: Preempting -> Owner',
      '11/30/26 06:11:03.000 **** condor_startd (condor_STARTD) pid 4242 EXITING WITH STATUS 0',
    ].join('\n');
    expect(parseStartdLog(log)).toEqual({ state: 'Owner/Vacating', exit: 'EXITING WITH STATUS 0' });
  });

  it('is null when the startd logged nothing', () => {
    expect(parseStartdLog('')).toEqual({ state: null, exit: null });
  });
});

describe('invalidation ads', () => {
  it('match the slot ads and the StartD ad of this glidein only, dots escaped', async () => {
    const { invalidationAds } = await import('../../agent/condor/invalidate.ts');
    const ads = invalidationAds('glidein_g.1');
    expect(ads.map((a) => a.targetType)).toEqual(['Machine', 'StartD']);
    expect(ads[0]!.text).toBe('MyType = "Query"\nTargetType = "Machine"\nRequirements = regexp("(^|@)glidein_g\\\\.1@", Name)\n');
  });
});

describe('the StartLog watch', () => {
  it('reports each new failed collector update once, and the exit with status 99', async () => {
    const { StartdLogWatch } = await import('../../agent/condor/startd-log.ts');
    const { appendFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'glstartlog-'));
    try {
      const log = (line: string) => appendFileSync(join(dir, 'StartLog'), `${line}\n`);
      const watch = new StartdLogWatch(dir);
      expect(watch.poll()).toEqual({ leftForGood: false, updateFailed: false });
      log('11/30/26 08:34:35 Initial update sent to collector(s)');
      expect(watch.poll()).toEqual({ leftForGood: false, updateFailed: false });
      // HTCondor 25.14 after the collector restarted (08:39:35 in the trial).
      log('11/30/26 08:39:35 ERROR: SECMAN:2004:Server rejected our session id');
      log('11/30/26 08:39:35 Failed to start non-blocking update to <127.0.0.1:19618>.');
      expect(watch.poll()).toEqual({ leftForGood: false, updateFailed: true });
      expect(watch.poll()).toEqual({ leftForGood: false, updateFailed: false });
      log('11/30/26 08:44:35 Failed to start non-blocking update to <127.0.0.1:19618>.');
      expect(watch.poll().updateFailed).toBe(true);
      log('11/30/26 09:03:12 **** condor_startd (condor_STARTD) pid 11222 EXITING WITH STATUS 99');
      expect(watch.poll()).toEqual({ leftForGood: true, updateFailed: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
