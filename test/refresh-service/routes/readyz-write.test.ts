// GET /readyz proves a write (issue 26 item 4): with the state dir's file system full, a
// refresh fails, and /readyz then answers 503 naming the failed write instead of 200 "ready"
// (a one-page probe alone still fits on that disk); once space is freed it is ready again and
// refreshes work. State on a 512 KiB tmpfs (root only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { skipWithout } from '../../helpers/system-tools.ts';
import { mountSmallTmpfs, type SmallTmpfs } from '../../helpers/tmpfs.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';
import { refreshAgain, startPilot } from '../operator/pilot-driver.ts';

let sb: Sandbox;
let fs: SmallTmpfs;
let svc: RunningService | undefined;

beforeAll(async () => {
  sb = await makeSandbox();
  fs = await mountSmallTmpfs();
});
afterAll(async () => {
  await svc?.close();
  await fs?.unmount();
  await sb?.cleanup();
});

const readyz = async (url: string) => {
  const r = await fetch(`${url}/readyz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

/** /readyz until it answers `status` (its verdict is kept for a second), at most 100 tries. */
async function readyzUntil(url: string, status: number) {
  let last = await readyz(url);
  for (let i = 0; i < 100 && last.status !== status; i++) {
    await new Promise((r) => setTimeout(r, 100));
    last = await readyz(url);
  }
  return last;
}

describe('readiness on a full disk', () => {
  it('answers 503 naming the failed write while the disk is full, and ready again once it is not', async (t) => {
    if (skipWithout('a tmpfs mount', fs.dir !== undefined, `${fs.why}; run the tests as root`)) return t.skip();
    const here = { ...sb, stateDir: join(fs.dir!, 'state') };
    svc = await startRefreshService({ stateDir: here.stateDir, config: sb.config(), listen: '127.0.0.1:0' });
    const pilot = await startPilot(here, svc.url, 'rz-full', 'CE_RZ');
    expect((await readyz(svc.url)).status).toBe(200);

    const filler = await fs.fill();
    // A refresh cannot commit on the full disk; readiness must not say otherwise.
    expect((await refreshAgain(svc.url, pilot)).status).toBe(500);
    const full = await readyzUntil(svc.url, 503);
    expect(full.status).toBe(503);
    expect(full.body).toMatchObject({ status: 'not_ready' });
    expect(full.body['reason']).toMatch(/^state store cannot write: database or disk is full \(SQLITE_FULL\); the last settleRefresh failed at .*: database or disk is full/);
    expect((await refreshAgain(svc.url, pilot)).status).toBe(500);

    await rm(filler);
    expect(await readyzUntil(svc.url, 200)).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await refreshAgain(svc.url, pilot)).status).toBe(200);
  });
});
