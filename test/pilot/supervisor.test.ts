// The pilot's end conditions with a fake clock: retire and drain before the batch system's end
// (kill grace + margin), the bundle's lifetime otherwise, and the first end winning.
import { describe, expect, it } from 'vitest';
import { Supervisor, drainDeadline } from '../../agent/pilot/supervisor.ts';
import { emptyCounts, type PayloadEnd, type PayloadSource } from '../../agent/pilot/payload-source.ts';
import { silentLogger } from '../../shared/log.ts';
import { FakeClock } from '../fixtures/pilot/support.ts';

function idleSource(): PayloadSource & { finish(e: PayloadEnd): void } {
  let finish!: (e: PayloadEnd) => void;
  const done = new Promise<PayloadEnd>((r) => (finish = r));
  return { kind: 'test', done, start: async () => {}, retire() {}, stop: async () => {}, counts: emptyCounts, finish };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Supervisor', () => {
  it('retires before the batch system\'s end and drains kill grace + margin before it', async () => {
    const c = new FakeClock();
    const nowS = c.now() / 1000;
    const retired: number[] = [];
    const sup = new Supervisor({
      clock: c, log: silentLogger, lifetimeEndsAt: nowS + 7200, batchEnd: { endsAt: nowS + 1000, source: 'test' }, drainLeadS: 35,
      signal: new AbortController().signal, onRetire: () => retired.push(c.now() / 1000 - nowS),
    });
    sup.start(idleSource());
    c.advance(868_000);
    expect(retired).toEqual([]);
    c.advance(1_000);
    // drain at 1000 - 35 = 965 s; retire 10 % of that earlier (96.5 s)
    expect(retired).toEqual([868.5]);
    c.advance(95_500);
    expect(sup.endedWith).toBeUndefined();
    c.advance(1_000);
    expect(sup.endedWith).toEqual({ reason: 'batch-end', code: 0 });
  });

  it('uses the bundle\'s lifetime when it ends before the batch system does', () => {
    expect(drainDeadline({ lifetimeEndsAt: 5000, batchEnd: { endsAt: 9000, source: 't' }, drainLeadS: 35 })).toEqual({ atS: 5000, reason: 'max-lifetime' });
    expect(drainDeadline({ lifetimeEndsAt: 5000, batchEnd: undefined, drainLeadS: 35 })).toEqual({ atS: 5000, reason: 'max-lifetime' });
    expect(drainDeadline({ lifetimeEndsAt: 5000, batchEnd: { endsAt: 5020, source: 't' }, drainLeadS: 35 })).toEqual({ atS: 4985, reason: 'batch-end' });
  });

  it('maps a retired, empty source to the deadline that retired it', async () => {
    const c = new FakeClock();
    const nowS = c.now() / 1000;
    const source = idleSource();
    const sup = new Supervisor({ clock: c, log: silentLogger, lifetimeEndsAt: nowS + 7200, batchEnd: { endsAt: nowS + 100, source: 't' }, drainLeadS: 20, retireMarginS: 30, signal: new AbortController().signal, onRetire: () => source.finish({ kind: 'retired-and-empty' }) });
    sup.start(source);
    c.advance(50_000);
    await flush();
    expect(sup.endedWith).toEqual({ reason: 'batch-end', code: 0 });
  });

  it('lets the first end win: a drain signal, then a failing command', async () => {
    const c = new FakeClock();
    const abort = new AbortController();
    const source = idleSource();
    const sup = new Supervisor({ clock: c, log: silentLogger, lifetimeEndsAt: c.now() / 1000 + 3600, drainLeadS: 20, signal: abort.signal, onRetire: () => {} });
    sup.start(source);
    abort.abort();
    source.finish({ kind: 'command-exited', exitCode: 3 });
    await flush();
    expect(await sup.ended).toEqual({ reason: 'signal', code: 0 });
    sup.stop();
    expect(c.timers).toEqual([]);
  });
});
