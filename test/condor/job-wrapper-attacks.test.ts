// The three attacks of issue 21 on HTCondor mode, staged against the real wrapper and hook run
// as the starter runs them (wrapper-fixture.ts): a non-root pilot, real accounts alice and bob,
// sudo as the helper, setfacl. Each failed on the code before the fix:
//  1. the job's environment (LD_PRELOAD, LD_AUDIT, NODE_OPTIONS) ran its code as the pilot;
//  2. bob's job's _CONDOR_CREDS (or a symlinked or planted .condor_creds) made it run as alice;
//  3. links the job left in its scratch dir made output transfer send the pilot's secrets home.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { findExecutable } from '../helpers/system-tools.ts';
import type { NonRootPilot, SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { environmentAfterHook, prepareHook, runJob, scratch, starterSide, startWrapper, type Scratch, type ScratchOptions } from './wrapper-fixture.ts';

let fx: SandboxFixture;
let pilot: NonRootPilot | undefined;
let root: string;
let evilSo: string | null = null;
const bobSudoers = '/etc/sudoers.d/glcapilot-bob';

const job = (policy: string | null, token: string | null, o?: ScratchOptions): Scratch => scratch(pilot!, root, policy, token, o);
const own = (p: string) => chownSync(p, pilot!.account.uid, pilot!.account.gid);
const starter = (s: Scratch) => ({ _CONDOR_WRAPPER_ERROR_FILE: s.errorFile, _CONDOR_SCRATCH_DIR: s.dir, _CONDOR_JOB_AD: join(s.dir, '.job.ad') });

/** Markers written by attacker code: the file name says which, the content the uid that ran it. */
function markers(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.marker')).map((f) => [f, readFileSync(join(dir, f), 'utf8').trim()]));
}

describe.skipIf(!IS_ROOT)('HTCondor mode against a hostile job (issue 21)', () => {
  beforeAll(async () => {
    const side = await starterSide(['glcaalice', 'glcabob'], 'glcapilot');
    if (!side) return;
    ({ fx, pilot, root } = side);
    writeFileSync(bobSudoers, `${pilot.account.name} ALL=(${fx.users.b.name}) NOPASSWD: ALL\n`, { mode: 0o440 });
    // Attacker code: a library whose constructor, and a Node module, record the uid they ran as.
    const evil = join(fx.dir, 'evil');
    mkdirSync(evil, { mode: 0o777 });
    writeFileSync(join(evil, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(join(evil, 'node.'))} + process.pid + '.marker', String(process.getuid()));\n`);
    const cc = findExecutable('cc');
    if (cc) {
      writeFileSync(join(evil, 'evil.c'), `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void evil(void) { char p[512]; snprintf(p, sizeof p, "${evil}/so.%d.marker", (int)getpid()); FILE *f = fopen(p, "w"); if (f) { fprintf(f, "%d", (int)getuid()); fclose(f); } }\n`);
      execFileSync(cc, ['-shared', '-fPIC', '-o', join(evil, 'evil.so'), join(evil, 'evil.c')]);
      evilSo = join(evil, 'evil.so');
    } else {
      console.warn('no C compiler: the LD_PRELOAD/LD_AUDIT library is not built; the Node module alone records attacker code');
    }
  }, 60_000);
  afterAll(() => {
    rmSync(bobSudoers, { force: true });
    pilot?.cleanup();
    fx?.cleanup();
  });

  it("1: a job's LD_PRELOAD, LD_AUDIT and NODE_OPTIONS never reach the pilot; the job gets its own environment back as its user", async (ctx) => {
    if (!pilot) return ctx.skip();
    const evil = join(fx.dir, 'evil');
    const lib = evilSo ?? '/nonexistent/evil.so';
    const environment = `LD_PRELOAD=${lib} LD_AUDIT=${lib} NODE_OPTIONS='--require ${join(evil, 'evil.js')}' GCONV_PATH=${evil} FOO='one two' _CONDOR_SCRATCH_DIR=/tmp`;
    const s = job(pilot.policy(), await fx.token({ sub: 'alice' }), { environment });
    const hook = await prepareHook(pilot, s);
    // What the starter builds the job's (and so the wrapper's) environment from after the hook.
    const env = environmentAfterHook(s, hook.stdout);
    expect(Object.keys(env)).toEqual(['GLIDEIN_CONDOR_JOB']);
    const w = startWrapper(pilot, s, ['/bin/sh', '-c', 'id -u; echo "FOO=$FOO"; echo "LD_PRELOAD=${LD_PRELOAD-unset} LD_AUDIT=${LD_AUDIT-unset}"; echo "GCONV_PATH=$GCONV_PATH"; echo "SCRATCH=$_CONDOR_SCRATCH_DIR"'], { ...env, ...starter(s) });
    expect(await w.done).toBe(0);
    const out = s.stdout().split('\n');
    expect(out[0]).toBe(String(fx.users.a.uid));
    expect(out[1]).toBe('FOO=one two');
    expect(out[2]).toBe('LD_PRELOAD=unset LD_AUDIT=unset');
    expect(out[3]).toBe(`GCONV_PATH=${evil}`);
    // The starter's own variables win over the job's, as HTCondor merges them.
    expect(out[4]).toBe(`SCRATCH=${s.dir}`);
    // Attacker code ran nowhere as the pilot (or root): no marker at all here.
    expect(markers(evil)).toEqual({});
  }, 60_000);

  it('1: without the hook\'s sealed facts (or with forged ones) the wrapper runs no switched job', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = job(pilot.policy(), await fx.token({ sub: 'alice' }), { environment: 'FOO=bar' });
    const bare = startWrapper(pilot, s, ['/bin/sh', '-c', 'echo ran'], { FOO: 'bar', ...starter(s) });
    expect(await bare.done).toBe(1);
    expect(readFileSync(s.errorFile, 'utf8')).toMatch(/^glidein: NO_HOOK: the prepare-job hook did not vouch for this job/);
    const forged = startWrapper(pilot, s, ['/bin/sh', '-c', 'echo ran'], { GLIDEIN_CONDOR_JOB: `${Buffer.from('{"v":1}').toString('base64url')}.AAAA`, ...starter(s) });
    expect(await forged.done).toBe(1);
    expect(s.stdout()).toBe('');
  }, 60_000);

  it("2: bob's job pointing _CONDOR_CREDS at alice's credentials runs as bob, never as alice", async (ctx) => {
    if (!pilot) return ctx.skip();
    const alice = job(pilot.policy(), await fx.token({ sub: 'alice' }));
    const creds = join(alice.dir, '.condor_creds');
    const bob = job(pilot.policy(), await fx.token({ sub: 'bob' }), { environment: `_CONDOR_CREDS=${creds}`, user: 'bob@test.example' });
    // Also as an old starter would have passed it: straight in the wrapper's environment.
    const w = await runJob(pilot, bob, ['/usr/bin/id', '-u'], { _CONDOR_CREDS: creds });
    expect(await w.done).toBe(0);
    expect(bob.stdout().trim()).toBe(String(fx.users.b.uid));
  }, 60_000);

  it("2: with condorTokenFile, bob's _CONDOR_CREDS at alice's scratch dir gets bob's job held, not run as alice", async (ctx) => {
    if (!pilot) return ctx.skip();
    const policy = pilot.policy({ condorTokenFile: 'job.jwt' });
    const alice = job(policy, null, { oauth: false });
    writeFileSync(join(alice.dir, 'job.jwt'), (await fx.token({ sub: 'alice' })) + '\n', { mode: 0o600 });
    own(join(alice.dir, 'job.jwt'));
    const bob = job(policy, null, { oauth: false, environment: `_CONDOR_CREDS=${alice.dir}` });
    const hook = await prepareHook(pilot, bob);
    expect(hook.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: NO_IDENTITY: the job carries no identity token \(looked for [^)]*dir_1\/job.jwt\)"/);
    expect(hook.stdout).not.toContain(alice.dir + '/job.jwt');
    const w = await runJob(pilot, bob, ['/usr/bin/id', '-u'], { _CONDOR_CREDS: alice.dir });
    expect(await w.done).toBe(1);
    expect(bob.stdout()).toBe('');
  }, 60_000);

  it("2: a .condor_creds that is a symlink to alice's is refused (held), not followed", async (ctx) => {
    if (!pilot) return ctx.skip();
    const alice = job(pilot.policy(), await fx.token({ sub: 'alice' }));
    const bob = job(pilot.policy(), null, { oauth: false });
    symlinkSync(join(alice.dir, '.condor_creds'), join(bob.dir, '.condor_creds'));
    // The ad asks for OAuth (the starter would have made the dir; the link stands in for it).
    writeFileSync(join(bob.dir, '.job.ad'), readFileSync(join(bob.dir, '.job.ad'), 'utf8') + 'OAuthServicesNeeded = "scitokens"\n');
    const hook = await prepareHook(pilot, bob);
    expect(hook.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: NO_IDENTITY: the job's credential directory \S+\.condor_creds is not a directory \(a symbolic link or a file\)/);
  }, 60_000);

  it('2: a .condor_creds planted by a job that asked for no OAuth services is not used', async (ctx) => {
    if (!pilot) return ctx.skip();
    const s = job(pilot.policy(), null, { oauth: false });
    mkdirSync(join(s.dir, '.condor_creds'), { mode: 0o700 });
    own(join(s.dir, '.condor_creds'));
    writeFileSync(join(s.dir, '.condor_creds', 'scitokens.use'), (await fx.token({ sub: 'alice' })) + '\n', { mode: 0o600 });
    own(join(s.dir, '.condor_creds', 'scitokens.use'));
    const hook = await prepareHook(pilot, s);
    expect(hook.stdout).toMatch(/^HookStatusCode = 1\nHookStatusMessage = "glidein: NO_IDENTITY: the job carries no identity token: its ad asks for no OAuth services/);
  }, 60_000);

  it('3: links to the C-CRED, the DPoP key and the refresh token (by name, as stdout/stderr, through a directory link) are gone before output transfer', async (ctx) => {
    if (!pilot) return ctx.skip();
    // The pilot's secrets, as the work dir holds them: a 0700 dir of the pilot's.
    const secrets = join(root, 'cred.d');
    mkdirSync(join(secrets, 'pilot'), { recursive: true, mode: 0o700 });
    const files = { 'c-cred': 'SECRET-C-CRED', 'dpop.jwk': '{"d":"SECRET-DPOP"}', 'pilot/refresh-token': 'SECRET-REFRESH' };
    for (const [f, v] of Object.entries(files)) writeFileSync(join(secrets, f), v, { mode: 0o600 });
    for (const d of [secrets, join(secrets, 'pilot'), ...Object.keys(files).map((f) => join(secrets, f))]) own(d);
    const s = job(pilot.policy(), await fx.token({ sub: 'alice' }));
    const plant = [
      `ln -s ${secrets}/c-cred cc.link`, `ln -s ${secrets}/dpop.jwk dpop.link`, `ln -s ${secrets}/pilot/refresh-token rt.link`,
      `ln -s ${secrets} dirlink`, 'mkdir sub', `ln -s ${secrets}/c-cred sub/deep.link`, 'mkfifo fifo',
      `rm -f _condor_stdout _condor_stderr`, `ln -s ${secrets}/c-cred _condor_stdout`, `ln -s ${secrets}/dpop.jwk _condor_stderr`,
      'echo result > output.txt',
    ].join(' && ');
    const w = await runJob(pilot, s, ['/bin/sh', '-c', plant]);
    expect(await w.done).toBe(0);
    // What the starter would now transfer, as the pilot: none of it leads to a secret.
    const transfer = ['cc.link', 'dpop.link', 'rt.link', 'dirlink/pilot/refresh-token', 'dirlink/c-cred', 'sub/deep.link', '_condor_stdout', '_condor_stderr', 'fifo'];
    for (const name of transfer) {
      const p = join(s.dir, name);
      if (!existsSync(p)) continue;
      expect(realpathSync(p).startsWith(s.dir + '/')).toBe(true);
      expect(lstatSync(p).isFile()).toBe(true);
      expect(readFileSync(p, 'utf8')).not.toMatch(/SECRET/);
    }
    const left = execFileSync('find', [s.dir, '(', '-type', 'l', '-o', '-type', 'p', ')', '-print'], { encoding: 'utf8' });
    expect(left).toBe('');
    // The job's real results stay.
    expect(readFileSync(join(s.dir, 'output.txt'), 'utf8')).toBe('result\n');
  }, 60_000);
});
