// The site's audit records in HTCondor mode (issue 25), with the job wrapper and the prepare-job
// hook run as HTCondor's starter runs them (test/condor/wrapper-fixture.ts): a non-root pilot,
// sudo as the helper, real accounts. A job run has its start and end with the schedd's ids and
// the pilot; the starter's vacate is `vacate`; a job held by the hook or refused by the wrapper
// has the end record naming the identity it carries.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import type { NonRootPilot, SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { lastJob, prepareHook, runJob, sealedAsHook, scratch as scratchOf, starterSide, startWrapper, type Scratch } from '../condor/wrapper-fixture.ts';
import { parseAuditLine, type AuditRecord } from '../../agent/audit/audit-record.ts';

let fx: SandboxFixture;
let pilot: NonRootPilot | undefined;
let root: string;
let n = 0;
const PILOT = { glideinId: 'g-condor-audit', entry: 'TEST_ENTRY', factory: 'https://rs.factory.example', batchJob: 'slurm:99' };

/** A scratch dir whose policy writes the audit file in a directory of the pilot's own. */
function scratch(token: string | null): { s: Scratch; file: string } {
  const dir = join(root, `audit-${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, pilot!.account.uid, pilot!.account.gid);
  const file = join(dir, 'audit.log');
  return { s: scratchOf(pilot!, root, pilot!.policy({ audit: { syslog: false, file } }), token, { config: { pilot: PILOT } }), file };
}

function records(file: string): AuditRecord[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => parseAuditLine(l)!) : [];
}

describe.skipIf(!IS_ROOT)('audit records in HTCondor mode', () => {
  beforeAll(async () => {
    const side = await starterSide(['glcaalice', 'glcabob'], 'glcapilot');
    if (side) ({ fx, pilot, root } = side);
  }, 60_000);
  afterAll(() => {
    pilot?.cleanup();
    fx?.cleanup();
  });

  it("a job run has a start and an end with the schedd's ids and the pilot, written by the pilot's account", async (ctx) => {
    if (!pilot) return ctx.skip();
    const { s, file } = scratch(await fx.token({ sub: 'alice' }));
    const w = await runJob(pilot, s, ['/bin/sh', '-c', 'echo $$']);
    expect(await w.done).toBe(0);
    const id = lastJob();
    const [start, end, ...rest] = records(file);
    expect(rest).toEqual([]);
    const who = { source: 'condor', condor: { globalJobId: `schedd.test#5.${id}#1700000000`, clusterProc: `5.${id}` }, pilot: PILOT, sub: 'alice', verified: true, account: fx.users.a.name, uid: fx.users.a.uid, mode: 'helper' };
    expect(start).toMatchObject({ event: 'start', ...who });
    expect(start!.job).toMatch(new RegExp(`^condor-5\\.${id}-\\d+$`));
    expect(end).toMatchObject({ event: 'end', ...who, state: 'completed', why: 'completed', run: start!.run });
    expect(readFileSync(file, 'utf8')).not.toMatch(/eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\./);
  }, 60_000);

  it("the starter's vacate (SIGTERM to the wrapper) ends the record with why vacate", async (ctx) => {
    if (!pilot) return ctx.skip();
    const { s, file } = scratch(await fx.token({ sub: 'alice' }));
    const w = await runJob(pilot, s, ['/bin/sleep', '60']);
    for (let i = 0; i < 600 && !records(file).some((r) => r.event === 'start'); i++) await sleep(50);
    process.kill(w.pid, 'SIGTERM');
    await w.done;
    expect(records(file)).toMatchObject([{ event: 'start', sub: 'alice' }, { event: 'end', sub: 'alice', state: 'killed', why: 'vacate' }]);
  }, 60_000);

  it('a job the prepare-job hook holds (unmapped) has one end record naming its identity', async (ctx) => {
    if (!pilot) return ctx.skip();
    const { s, file } = scratch(await fx.token({ sub: 'mallory' }));
    const hook = await prepareHook(pilot, s);
    expect(hook.stdout).toMatch(/HookStatusCode = 1/);
    expect(records(file)).toMatchObject([{ event: 'end', source: 'condor', state: 'held', why: 'held', sub: 'mallory', verified: true, account: null, pilot: PILOT, condor: { clusterProc: `5.${lastJob()}` } }]);
    expect(records(file)[0]!.reason).toMatch(/^UNMAPPED: /);
  }, 60_000);

  it('a job the wrapper refuses (a forged token) has one end record with what the token claims', async (ctx) => {
    if (!pilot) return ctx.skip();
    const { s, file } = scratch(await fx.token({ sub: 'alice' }, true));
    const w = startWrapper(pilot, s, ['/bin/true'], { ...sealedAsHook(s), _CONDOR_WRAPPER_ERROR_FILE: s.errorFile, _CONDOR_SCRATCH_DIR: s.dir, _CONDOR_JOB_AD: join(s.dir, '.job.ad') });
    expect(await w.done).toBe(1);
    expect(records(file)).toMatchObject([{ event: 'end', state: 'held', sub: 'alice', verified: false, account: null, executable: '/bin/true' }]);
  }, 60_000);
});
