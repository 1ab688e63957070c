// heartbeatTimeout (issue 12 item 5): a family whose pilot sends no status heartbeat for that
// long after binding is revoked, logged and counted; a pilot that reports lives on, and a family
// never bound (a pilot still queued) is left alone. Real server, short timeout.
import { describe, expect, it } from 'vitest';
import { createDpopProof, generateDpopKey, type DpopKey } from '../../shared/dpop.ts';
import { createLogger } from '../../shared/log.ts';
import { registerPilot, startRefreshService } from '../../refresh-service/index.ts';
import { heartbeatSweepMs } from '../../refresh-service/housekeeping.ts';
import { makeSandbox, postJson, refresh } from './fixture.ts';

describe('heartbeat timeout', () => {
  it('sweeps a quarter of the timeout apart, between 1 s and 60 s', () => {
    expect([heartbeatSweepMs(2), heartbeatSweepMs(20), heartbeatSweepMs(1200), heartbeatSweepMs(86400)]).toEqual([1000, 5000, 60_000, 60_000]);
  });

  it('revokes a bound family silent for heartbeatTimeout seconds, logs and counts it, and spares the one that reports', async () => {
    const sb = await makeSandbox();
    const lines: string[] = [];
    const log = createLogger({ format: 'json', sink: { write: (l: string) => lines.push(l) } });
    const s = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ heartbeatTimeout: 2 }), listen: '127.0.0.1:0', log });
    let beat: NodeJS.Timeout | undefined;
    try {
      const pilot = async (id: string) => ({ id, bundle: await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: id, entry: 'CE_HB', url: s.url }), key: await generateDpopKey() });
      const [talks, silent, queued] = await Promise.all([pilot('talks'), pilot('silent'), pilot('queued')]);
      const tokens = new Map<string, string>();
      for (const p of [talks, silent]) tokens.set(p.id, (await refresh(s.url, p.bundle.refresh_token, p.key)).body['refresh_token'] as string);
      const status = (p: { id: string; key: DpopKey }) => createDpopProof(p.key, { htm: 'POST', htu: `${s.url}/v1/status` }).then((dpop) => postJson(`${s.url}/v1/status`, { glidein_id: p.id, state: 'running' }, { dpop }));
      expect((await status(talks)).status).toBe(200);
      beat = setInterval(() => void status(talks), 500);
      // Wait for the revocation itself (the housekeeping pass after the 2 s timeout), 20 s at most.
      for (let i = 0; i < 200 && !lines.some((l) => l.includes('family revoked: no status heartbeat')); i++) await new Promise((r) => setTimeout(r, 100));
      clearInterval(beat);
      expect(await refresh(s.url, tokens.get('silent')!, silent.key)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect((await refresh(s.url, tokens.get('talks')!, talks.key)).status).toBe(200);
      expect((await refresh(s.url, queued.bundle.refresh_token, queued.key)).status).toBe(200);
      expect(await (await fetch(`${s.url}/metrics`)).text()).toContain('glidein_refresh_heartbeat_revocations_total 1\n');
      const revoked = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['msg'] === 'family revoked: no status heartbeat');
      expect(revoked.map((r) => r['glidein_id'])).toEqual(['silent']);
    } finally {
      clearInterval(beat);
      await s.close();
      await sb.cleanup();
    }
  });
});
