// A full disk under the pilot's credential store (issue 26 item 2, worker side). Before, 22
// refresh retries in 33 s each rotated the token at the service and failed to store it, the
// re-grants used up the family's rate limit, the final report got 429 and the pilot died of an
// expired C-CRED with no error line saying "disk full". Now the first refresh it cannot keep is
// the last: an error-level line names the dir and ENOSPC, the pilot drains with reason
// disk-full, and its final report reaches the service. Real agent, real refresh service, the
// work dir on a tmpfs (root only) that is shrunk and filled while the payload runs.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';
import { pilotScenarios, startAgent, summaryOf, waitFor, logLines } from '../fixtures/pilot/agent.ts';
import { skipWithout } from '../helpers/system-tools.ts';
import { mountSmallTmpfs, type SmallTmpfs } from '../helpers/tmpfs.ts';

const scenarios = pilotScenarios();
let fs: SmallTmpfs | undefined;
afterAll(async () => {
  await fs?.unmount();
  await scenarios.cleanup();
});


const counter = (metrics: string, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);

describe('a full disk under the credential store', () => {
  it('stops refreshing at the first answer it cannot keep, says so at error level naming the dir, drains disk-full, and the final report gets through', async (t) => {
    // The agent wants 1 GB free in its work dir at start: a tmpfs that large costs nothing until
    // written, and is shrunk to 1 MiB once the payload runs.
    fs = await mountSmallTmpfs('1100m');
    if (skipWithout('a tmpfs mount', fs.dir !== undefined, `${fs.why}; run the tests as root`)) return t.skip();
    // 20 s credentials: the refresher's next refresh comes about 12 s after the binding one.
    const { s, dir } = await scenarios.setup(20);
    const bundle = await s.bundlePath('g-disk-full');
    const started = join(dir, 'started');
    const agent = startAgent(['--bundle', bundle, '--workdir', fs.dir!, '--failure-delay', '0', '--', '/bin/sh', '-c', `touch ${started}; exec sleep 120`]);
    await waitFor(started, 60_000, agent);
    fs.shrink('1m');
    await fs.fill();
    const r = await agent.done;

    expect(r.code, r.stderr).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ exitCode: 1, reason: 'disk-full', refreshes: 1, jobs: { killed: 1, running: 0 } });
    const lines = logLines(r.stderr);
    const full = lines.filter((l) => l['level'] === 'error' && String(l['msg']).includes('disk full'));
    expect(full, r.stderr).toHaveLength(1);
    console.info(`[figure] disk full: ${String(full[0]!['msg'])}`);
    expect(full[0]).toMatchObject({ code: 'GLIDEIN_ERR_STORE_IO', errno: 'ENOSPC' });
    expect(String(full[0]!['dir'])).toMatch(new RegExp(`^${fs.dir!}/glide_[^/]+/cred\\.d/pilot$`));
    expect(String(full[0]!['msg'])).toContain(String(full[0]!['dir']));
    expect(lines.find((l) => l['msg'] === 'draining')).toMatchObject({ reason: 'disk-full' });

    // At the service: the binding refresh and the one the disk could not keep, nothing more
    // (before: a re-grant per retry), and the final report recorded with the reason.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(counter(metrics, 'glidein_refresh_requests_total{route="/v1/refresh",outcome="rotated"}'), metrics).toBe(2);
    expect(counter(metrics, 'glidein_refresh_regrants_total')).toBe(0);
    const store = new SqliteStateStore(s.stateDir);
    try {
      const report = JSON.parse((await store.getStatus('g-disk-full'))!.report) as Record<string, unknown>;
      expect(report).toMatchObject({ state: 'exited', exit: { code: 1, reason: 'disk-full' } });
    } finally {
      await store.close();
    }
  }, 90_000);
});
