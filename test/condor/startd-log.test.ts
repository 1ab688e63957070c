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
