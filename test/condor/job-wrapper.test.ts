// glidein's USER_JOB_WRAPPER (issue 14, item 4), run the way HTCondor's starter runs it: as a
// non-root pilot account, in a scratch dir of that account with the job's stdout/stderr files,
// a real _CONDOR_WRAPPER_ERROR_FILE, a .condor_creds dir and a job ad, after the prepare-job
// hook (wrapper-fixture.ts); real accounts, sudo as the site helper, setfacl to hand the scratch
// dir to the mapped account.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chownSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import type { NonRootPilot, SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { events, lastJob, prepareHook as hookOf, runJob, scratch as scratchOf, starterSide, type Scratch, type ScratchOptions } from './wrapper-fixture.ts';

let fx: SandboxFixture;
let pilot: NonRootPilot | undefined;
let root: string;

const scratch = (policy: string | null, token: string | null, o?: ScratchOptions): Scratch => scratchOf(pilot!, root, policy, token, o);
function wrapper(s: Scratch, job: string[], extraEnv: Record<string, string> = {}): { done: Promise<number | null>; pid: Promise<number> } {
  const started = runJob(pilot!, s, job, extraEnv);
  return { done: started.then((w) => w.done), pid: started.then((w) => w.pid) };
}
const prepareHook = (s: Scratch) => hookOf(pilot!, s);

describe.skipIf(!IS_ROOT)('the HTCondor job wrapper', () => {
  beforeAll(async () => {
    const side = await starterSide(['glcwalice', 'glcwbob'], 'glcwpilot');
    if (side) ({ fx, pilot, root } = side);
  }, 60_000);
  afterAll(() => {
    pilot?.cleanup();
    fx?.cleanup();
  });

  it('runs a job whose token maps as the mapped account, in its scratch dir, with the token as BEARER_TOKEN_FILE', async (ctx) => {
    if (!pilot) return ctx.skip();
    const token = await fx.token({ sub: 'alice' });
    const s = scratch(pilot.policy(), token);
    writeFileSync(join(s.dir, 'input.txt'), 'from the submitter\n');
    chownSync(join(s.dir, 'input.txt'), pilot.account.uid, pilot.account.gid);
    const w = wrapper(s, ['/bin/sh', '-c', 'id -u; cat input.txt; cat "$BEARER_TOKEN_FILE"; echo; echo out > output.txt']);
    expect(await w.done).toBe(0);
    const lines = s.stdout().split('\n');
    expect(lines[0]).toBe(String(fx.users.a.uid));
    expect(lines[1]).toBe('from the submitter');
    expect(lines[2]).toBe(token);
    // The starter (the pilot) can still read what the job wrote, for output transfer.
    expect(readFileSync(join(s.dir, 'output.txt'), 'utf8')).toBe('out\n');
    expect(existsSync(s.errorFile)).toBe(false);
    expect(events(s).map((e) => [e['event'], e['state'] ?? null])).toEqual([['start', null], ['end', 'completed']]);
  }, 60_000);

  it('turns an unmappable job away: the reason in _CONDOR_WRAPPER_ERROR_FILE and a refusal of the job and its submitter', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'mallory' }));
    const w = wrapper(s, ['/bin/sh', '-c', 'echo should-not-run']);
    expect(await w.done).toBe(1);
    expect(readFileSync(s.errorFile, 'utf8')).toMatch(/^glidein: UNMAPPED: .*permanent/);
    expect(s.stdout()).toBe('');
    const end = events(s).find((e) => e['event'] === 'end')!;
    expect(end).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${lastJob()}#1700000000`, user: 'alice@test.example' } });
  }, 60_000);

  it('turns away a job that carries no identity token (NO_IDENTITY), and one with a forged token (UNVERIFIED)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const none = scratch(pilot.policy(), null);
    expect(await wrapper(none, ['/bin/true']).done).toBe(1);
    expect(readFileSync(none.errorFile, 'utf8')).toMatch(/NO_IDENTITY: .*\*\.use/);
    const forged = scratch(pilot.policy(), await fx.token({ sub: 'alice' }, true));
    expect(await wrapper(forged, ['/bin/true']).done).toBe(1);
    expect(readFileSync(forged.errorFile, 'utf8')).toMatch(/UNVERIFIED/);
  }, 60_000);

  it('turns away a job whose executable is missing: refused here as a job, its submitter still welcome', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    expect(await wrapper(s, [join(s.dir, 'condor_exec.exe')]).done).toBe(1);
    expect(readFileSync(s.errorFile, 'utf8')).toMatch(/^glidein: ENOENT: /);
    expect(events(s).find((e) => e['event'] === 'end')).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${lastJob()}#1700000000`, user: null } });
  }, 60_000);

  it('runs the job when TMPDIR lies deep in the execute dir, as HTCondor sets it (a socket there would pass the 108-byte limit)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    // The real trial's TMPDIR: <work dir>/condor/local/execute/dir_2418/scratch/tmp (a socket under it: 120 bytes).
    const deep = join(s.dir, 'scratch-of-htcondor-25', 'x'.repeat(40), 'tmp');
    mkdirSync(deep, { recursive: true, mode: 0o700 });
    for (let d = deep; d !== s.dir; d = join(d, '..')) chownSync(d, pilot.account.uid, pilot.account.gid);
    const w = wrapper(s, ['/usr/bin/id', '-u'], { TMPDIR: deep });
    expect(await w.done).toBe(0);
    expect(s.stdout().trim()).toBe(String(fx.users.a.uid));
    expect(existsSync(s.errorFile)).toBe(false);
  }, 60_000);

  it('an error of its own (no store dir for the job) fails the attempt as INTERNAL and refuses neither the job nor its submitter', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    // The wrapper config names a store parent that does not exist: the wrapper itself fails.
    const config = JSON.parse(readFileSync(s.config, 'utf8')) as Record<string, unknown>;
    writeFileSync(s.config, JSON.stringify({ ...config, storeParent: join(s.dir, 'no-such-dir') }));
    expect(await wrapper(s, ['/bin/true']).done).toBe(1);
    expect(readFileSync(s.errorFile, 'utf8')).toMatch(/^glidein: INTERNAL: /);
    expect(readFileSync(s.errorFile, 'utf8')).not.toContain('permanent');
    const end = events(s).find((e) => e['event'] === 'end')!;
    expect(end).toMatchObject({ state: 'held' });
    expect(end).not.toHaveProperty('refuse');
  }, 60_000);

  it('takes the token from the file the policy names (condorTokenFile) in the scratch dir', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy({ condorTokenFile: 'job.jwt' }), null);
    writeFileSync(join(s.dir, 'job.jwt'), (await fx.token({ sub: 'alice' })) + '\n', { mode: 0o600 });
    chownSync(join(s.dir, 'job.jwt'), pilot.account.uid, pilot.account.gid);
    expect(await wrapper(s, ['/usr/bin/id', '-u']).done).toBe(0);
    expect(s.stdout().trim()).toBe(String(fx.users.a.uid));
  }, 60_000);

  it('forwards the starter\'s SIGTERM (vacate) to the switched job', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    const w = wrapper(s, ['/bin/sh', '-c', 'trap "echo got-TERM; exit 7" TERM; echo started; sleep 60 & wait']);
    for (let i = 0; i < 300 && !s.stdout().includes('started'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.stdout()).toContain('started');
    process.kill(await w.pid, 'SIGTERM');
    await w.done;
    expect(s.stdout()).toContain('got-TERM');
  }, 60_000);

  it('without an identity policy runs the job as the pilot, exec\'d directly', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(null, null);
    expect(await wrapper(s, ['/bin/sh', '-c', 'id -u; exit 4']).done).toBe(4);
    expect(s.stdout().trim()).toBe(String(pilot.account.uid));
  }, 60_000);

  it('the prepare-job hook lets a job whose token maps go on (only its environment is replaced)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    const r = await prepareHook(s);
    expect(r.code).toBe(0);
    // It goes on with its environment replaced by the sealed facts (job-env.ts), nothing else.
    expect(r.stdout).toMatch(/^Environment = "GLIDEIN_CONDOR_JOB=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"\n$/);
    expect(events(s)).toEqual([]);
  }, 60_000);

  it('the prepare-job hook holds an unmappable job (HookStatusCode 1, the reason as HookStatusMessage); the submitter stays welcome', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'mallory' }));
    const r = await prepareHook(s);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: UNMAPPED: [^"\n]*"\n$/);
    expect(events(s).find((e) => e['event'] === 'end')).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${lastJob()}#1700000000`, user: null } });
  }, 60_000);

  it("the prepare-job hook holds a job without a token, finding .condor_creds in the starter's _CONDOR_SCRATCH_DIR", async (ctx) => {
    if (!pilot) return ctx.skip();
    const none = await prepareHook(scratch(pilot.policy(), null));
    expect(none.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: NO_IDENTITY: .*\.condor_creds holds no \*\.use token"/);
    const named = scratch(pilot.policy({ condorTokenFile: 'job.jwt' }), null);
    writeFileSync(join(named.dir, 'job.jwt'), (await fx.token({ sub: 'alice' })) + '\n', { mode: 0o600 });
    chownSync(join(named.dir, 'job.jwt'), pilot.account.uid, pilot.account.gid);
    expect((await prepareHook(named)).stdout).toMatch(/^Environment = "GLIDEIN_CONDOR_JOB=/);
  }, 60_000);

  it('the prepare-job hook holds nothing without an identity policy (jobs run as the pilot), and still carries the environment', async (ctx) => {
    if (!pilot) return ctx.skip();
    expect(await prepareHook(scratch(null, null))).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Environment = "GLIDEIN_CONDOR_JOB=[^"\n]*"\n$/) });
  }, 60_000);
});
