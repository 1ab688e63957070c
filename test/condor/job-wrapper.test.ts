// glidein's USER_JOB_WRAPPER (issue 14, item 4), run the way HTCondor's starter runs it: as a
// non-root pilot account, in a scratch dir of that account with the job's stdout/stderr files,
// a real _CONDOR_WRAPPER_ERROR_FILE, a fake _CONDOR_CREDS dir and a job ad; real accounts,
// sudo as the site helper, setfacl to hand the scratch dir to the mapped account.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chownSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { skipWithoutTool } from '../helpers/system-tools.ts';
import { makeFixture, nonRootPilot, type NonRootPilot, type SandboxFixture } from '../sandbox/sandbox-fixture.ts';

let fx: SandboxFixture;
let pilot: NonRootPilot | undefined;
let root: string;
let n = 0;

interface Scratch {
  dir: string;
  errorFile: string;
  events: string;
  config: string;
  stdout: () => string;
  stderr: () => string;
}

/** A condor dir, wrapper config and one job's scratch dir, all owned by the pilot account. */
function scratch(policy: string | null, token: string | null): Scratch {
  const id = ++n;
  const own = (p: string) => chownSync(p, pilot!.account.uid, pilot!.account.gid);
  const base = join(root, `c${id}`);
  for (const [d, mode] of [[base, 0o711], [join(base, 'stores'), 0o711], [join(base, 'events'), 0o700], [join(base, 'execute'), 0o711], [join(base, 'execute', 'dir_1'), 0o700]] as const) {
    mkdirSync(d, { mode });
    own(d);
  }
  const dir = join(base, 'execute', 'dir_1');
  const config = join(base, 'job-wrapper.json');
  writeFileSync(config, JSON.stringify({ v: 1, policy, storeParent: join(base, 'stores'), events: join(base, 'events'), logFile: join(base, 'JobWrapperLog') }));
  const creds = join(dir, '.condor_creds');
  mkdirSync(creds, { mode: 0o700 });
  own(creds);
  if (token !== null) {
    writeFileSync(join(creds, 'scitokens.use'), token + '\n', { mode: 0o600 });
    own(join(creds, 'scitokens.use'));
  }
  writeFileSync(join(dir, '.job.ad'), `ClusterId = 5\nProcId = ${id}\nGlobalJobId = "schedd.test#5.${id}#1700000000"\nUser = "alice@test.example"\n`);
  for (const f of ['.job.ad', '_condor_stdout', '_condor_stderr']) {
    if (!existsSync(join(dir, f))) writeFileSync(join(dir, f), '', { mode: 0o644 });
    own(join(dir, f));
  }
  return {
    dir, config, errorFile: join(base, '.job_wrapper_failure'), events: join(base, 'events'),
    stdout: () => readFileSync(join(dir, '_condor_stdout'), 'utf8'),
    stderr: () => readFileSync(join(dir, '_condor_stderr'), 'utf8'),
  };
}

/** Start the wrapper as the starter does: as the pilot, in the scratch dir, stdout/stderr on its files. */
function wrapper(s: Scratch, job: string[], extraEnv: Record<string, string> = {}) {
  const out = openSync(join(s.dir, '_condor_stdout'), 'a');
  const err = openSync(join(s.dir, '_condor_stderr'), 'a');
  const p = spawn(NODE, [CLI_TS, 'condor-job-wrapper', '--config', s.config, '--', ...job], {
    uid: pilot!.account.uid, gid: pilot!.account.gid, cwd: s.dir, stdio: ['ignore', out, err],
    env: { PATH: '/usr/bin:/bin', _CONDOR_CREDS: join(s.dir, '.condor_creds'), _CONDOR_WRAPPER_ERROR_FILE: s.errorFile, _CONDOR_SCRATCH_DIR: s.dir, _CONDOR_JOB_AD: join(s.dir, '.job.ad'), HOME: s.dir, ...extraEnv },
  });
  closeSync(out);
  closeSync(err);
  return { pid: p.pid!, done: new Promise<number | null>((r) => p.on('close', (code) => r(code))) };
}

/** Run the prepare-job hook as the starter does: as the pilot, the job ad on stdin, _CONDOR_JOB_IWD set, no _CONDOR_CREDS. */
function prepareHook(s: Scratch): Promise<{ code: number | null; stdout: string }> {
  const p = spawn(NODE, [CLI_TS, 'condor-prepare-job', '--config', s.config], {
    uid: pilot!.account.uid, gid: pilot!.account.gid, cwd: '/', stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: '/usr/bin:/bin', _CONDOR_JOB_IWD: s.dir, BATCH_SYSTEM: 'HTCondor' },
  });
  let stdout = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stdin!.end(readFileSync(join(s.dir, '.job.ad')));
  return new Promise((r) => p.on('close', (code) => r({ code, stdout })));
}

function events(s: Scratch): Record<string, unknown>[] {
  return readdirSync(s.events).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(readFileSync(join(s.events, f), 'utf8')) as Record<string, unknown>);
}

describe.skipIf(!IS_ROOT)('the HTCondor job wrapper', () => {
  beforeAll(async () => {
    if (skipWithoutTool('sudo', 'the non-root pilot needs sudo as its helper (apt-get install sudo)')) return;
    if (skipWithoutTool('setfacl', 'a non-root pilot hands the scratch dir to the mapped account with POSIX ACLs (apt-get install acl)')) return;
    fx = await makeFixture(['glcwalice', 'glcwbob']);
    pilot = nonRootPilot(fx, 'glcwpilot');
    root = join(fx.dir, 'condor');
    mkdirSync(root, { mode: 0o711 });
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
    expect(end).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${n}#1700000000`, user: 'alice@test.example' } });
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
    expect(events(s).find((e) => e['event'] === 'end')).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${n}#1700000000`, user: null } });
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
    process.kill(w.pid, 'SIGTERM');
    await w.done;
    expect(s.stdout()).toContain('got-TERM');
  }, 60_000);

  it('without an identity policy runs the job as the pilot, exec\'d directly', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(null, null);
    expect(await wrapper(s, ['/bin/sh', '-c', 'id -u; exit 4']).done).toBe(4);
    expect(s.stdout().trim()).toBe(String(pilot.account.uid));
  }, 60_000);

  it('the prepare-job hook lets a job whose token maps go on (prints nothing)', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'alice' }));
    const r = await prepareHook(s);
    expect(r).toEqual({ code: 0, stdout: '' });
    expect(events(s)).toEqual([]);
  }, 60_000);

  it('the prepare-job hook holds an unmappable job (HookStatusCode 1, the reason as HookStatusMessage); the submitter stays welcome', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = scratch(pilot.policy(), await fx.token({ sub: 'mallory' }));
    const r = await prepareHook(s);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: UNMAPPED: [^"\n]*"\n$/);
    expect(events(s).find((e) => e['event'] === 'end')).toMatchObject({ state: 'held', refuse: { job: `schedd.test#5.${n}#1700000000`, user: null } });
  }, 60_000);

  it('the prepare-job hook holds a job without a token, finding .condor_creds through _CONDOR_JOB_IWD', async (ctx) => {
    if (!pilot) return ctx.skip();
    const none = await prepareHook(scratch(pilot.policy(), null));
    expect(none.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: NO_IDENTITY: .*\.condor_creds holds no \*\.use token"/);
    const named = scratch(pilot.policy({ condorTokenFile: 'job.jwt' }), null);
    writeFileSync(join(named.dir, 'job.jwt'), (await fx.token({ sub: 'alice' })) + '\n', { mode: 0o600 });
    chownSync(join(named.dir, 'job.jwt'), pilot.account.uid, pilot.account.gid);
    expect((await prepareHook(named)).stdout).toBe('');
  }, 60_000);

  it('the prepare-job hook does nothing without an identity policy (jobs run as the pilot)', async (ctx) => {
    if (!pilot) return ctx.skip();
    expect(await prepareHook(scratch(null, null))).toEqual({ code: 0, stdout: '' });
  }, 60_000);
});
