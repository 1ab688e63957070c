// 1 000 connections opened slowly and kept idle or dribbling header bytes (slowloris) must not
// stop honest pilots from refreshing: every honest refresh during the siege is answered 200.
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { sleep, startServiceProcess, type ServiceProcess } from './fixture.ts';

const IDLE = 1000;
const OPEN_OVER_MS = 5000;
const SIEGE_MS = 12_000;
let svc: ServiceProcess | undefined;
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await svc?.cleanup();
});

describe('idle connections', () => {
  it('1 000 slowly opened idle connections do not stop honest pilots from refreshing', async () => {
    svc = await startServiceProcess();
    const s = svc;
    const pilots = await Promise.all(Array.from({ length: 8 }, (_, i) => s.register(`honest-${i}`)));
    let siege = true;
    let opened = 0;
    let dropped = 0;
    // The attacker: one connection every 5 ms; half send nothing, half a partial request line
    // and then one header byte a second. A connection the service drops is opened again.
    const open = (i: number): void => {
      if (!siege) return;
      const sock = connect(s.port, '127.0.0.1');
      sockets.push(sock);
      opened++;
      let drip: NodeJS.Timeout | undefined;
      sock.on('connect', () => {
        if (i % 2 === 0) return;
        sock.write('POST /v1/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        drip = setInterval(() => sock.write('a'), 1000);
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        clearInterval(drip);
        dropped++;
        if (siege) setTimeout(() => open(i), 100);
      });
    };
    const opening = (async () => {
      for (let i = 0; i < IDLE; i++) {
        open(i);
        await sleep(OPEN_OVER_MS / IDLE);
      }
    })();

    const statuses: number[] = [];
    const failures: string[] = [];
    const honest = pilots.map(async (p) => {
      const until = Date.now() + SIEGE_MS;
      while (Date.now() < until) {
        try {
          const r = await s.refresh(p);
          statuses.push(r.status);
          if (r.status === 200) p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
          else failures.push(`${r.status} ${r.body}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
        await sleep(50);
      }
    });
    await Promise.all([opening, ...honest]);
    const live = sockets.filter((x) => !x.destroyed).length;
    siege = false;
    console.info(`idle connections: ${opened} opened (${live} open at the end, ${dropped} dropped by the service), ${statuses.length} honest refreshes, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(pilots.length * 10);
    expect(live).toBeGreaterThan(IDLE / 2); // the siege really held connections open
    expect(s.child.exitCode).toBeNull();
  }, 120_000);
});
