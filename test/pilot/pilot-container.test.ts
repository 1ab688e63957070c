// `glidein run` with the bundle's container entry (issue 22), end to end: the real refresh service
// on loopback, the agent as a real process, the real bubblewrap and a busybox image the test
// builds. A spool job naming no image runs in the entry's default image under `required`, as its
// mapped account (root: setuid); the `-- COMMAND` payload runs in it too, seeing its C-CRED.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotScenarios, startAgent, summaryOf } from '../fixtures/pilot/agent.ts';
import { writeBundle } from '../fixtures/pilot/support.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';

const scenarios = pilotScenarios();
const ACCOUNT = 'glctrpilot';
afterAll(async () => {
  if (IS_ROOT) removeAccount(ACCOUNT);
  await scenarios.cleanup();
});

/** The registered bundle with the entry's container field added. */
async function containerBundle(s: { bundlePath(id: string): Promise<string> }, id: string, image: string): Promise<string> {
  const bundle = await s.bundlePath(id);
  const wire = JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>;
  wire['container'] = { mode: 'required', defaultImage: image };
  writeBundle(bundle, wire);
  return bundle;
}

describe('glidein run with a container entry', () => {
  it.runIf(IS_ROOT).concurrent('a spool job with no image runs in the default image under required, as its account, at /srv with its token', async (ctx) => {
    if (skipWithoutBwrap()) return ctx.skip();
    const account = ensureAccount(ACCOUNT);
    const { s, dir, work } = await scenarios.setup(60);
    chmodSync(dir, 0o711);
    const image = buildBusyboxImage(join(dir, 'image'));
    const bundle = await containerBundle(s, 'g-ctr-spool', image);
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { alice: ACCOUNT } });
    const policy = JSON.parse(readFileSync(site.policyPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(site.policyPath, JSON.stringify({ ...policy, containers: { runtime: 'bwrap', allowedImageRoots: [dir] } }));
    const outDir = join(dir, 'out');
    mkdirSync(outDir, { mode: 0o700 });
    chownSync(outDir, account.uid, account.gid);
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    const storage = await site.storageToken('alice', 600);
    const script = `echo "cwd=$(pwd) uid=$(id -u)"; echo "token=$(cat "$BEARER_TOKEN_FILE")"; test -e ${work} && echo SEES-PILOT; ls /`;
    writeFileSync(join(spool, 'job1.json'), JSON.stringify({
      id: 'job1', executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, 'out'), stderr: join(outDir, 'err'),
      limits: { wallclockSeconds: 60 }, identity: await site.identityToken('alice', 600), credentials: [{ purpose: 'storage', type: 'scitoken', token: storage }],
    }));
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '2']).done;
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(spool, 'job1.result.json'), 'utf8')) as Record<string, unknown>;
    expect(result, readFileSync(join(outDir, 'err'), 'utf8')).toMatchObject({ state: 'completed', exitCode: 0, uid: account.uid });
    const out = readFileSync(join(outDir, 'out'), 'utf8');
    expect(out).toContain(`cwd=/srv uid=${account.uid}`);
    expect(out).toContain(`token=${storage}`);
    expect(out).not.toContain('SEES-PILOT');
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'idle-timeout', jobs: { started: 1, completed: 1 } });
  }, 90_000);

  it.concurrent('the -- COMMAND payload runs in the default image under required, with its C-CRED and nothing of cred.d', async (ctx) => {
    if (skipWithoutBwrap()) return ctx.skip();
    const { s, dir, work } = await scenarios.setup(60);
    const image = buildBusyboxImage(join(dir, 'image'));
    const bundle = await containerBundle(s, 'g-ctr-cmd', image);
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ containers: { runtime: 'bwrap' } }));
    const script = 'echo "cwd=$(pwd) home=$HOME"; test -s "$_CONDOR_SEC_TOKEN_DIRECTORY/glidein-collector" && echo has-idtoken; test -s "$BEARER_TOKEN_FILE" && echo has-scred; ls / | tr "\\n" " "; echo; env | grep -c . ';
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--policy', policy, '--failure-delay', '0', '--', '/bin/sh', '-c', script]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('the payload runs in a container');
    expect(r.stdout).toContain('cwd=/srv home=/srv');
    expect(r.stdout).toContain('has-idtoken');
    expect(r.stdout).toContain('has-scred');
    expect(r.stdout).not.toMatch(/cred\.d|etc /);
    expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);
  }, 90_000);

  it.concurrent('a drained pilot gives its -- COMMAND in a container its kill grace: the command traps SIGTERM and cleans up', async (ctx) => {
    if (skipWithoutBwrap()) return ctx.skip();
    const { s, dir, work } = await scenarios.setup(60);
    const image = buildBusyboxImage(join(dir, 'image'));
    const bundle = await containerBundle(s, 'g-ctr-grace', image);
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ killGraceSeconds: 20, containers: { runtime: 'bwrap' } }));
    // /srv is <pilot work dir>/srv outside: the test waits for the command's own word that it is ready.
    const script = 'trap "echo got-term; sleep 1; echo cleaned-up; exit 0" TERM; touch /srv/ready; while true; do sleep 1; done';
    const agent = startAgent(['--bundle', bundle, '--workdir', work, '--policy', policy, '--failure-delay', '0', '--', '/bin/sh', '-c', script]);
    // The pilot's work dir is a glide_* dir under --workdir.
    const ready = () => (existsSync(work) ? readdirSync(work) : []).some((d) => existsSync(join(work, d, 'srv', 'ready')));
    for (let i = 0; i < 1200 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(ready(), agent.log()).toBe(true);
    agent.child.kill('SIGTERM');
    const r = await agent.done;
    expect(r.stdout, r.stderr).toContain('cleaned-up');
    expect(r.stdout.match(/got-term/g)).toHaveLength(1);
    // It ended by its own exit within the grace, not by the SIGKILL after it.
    expect(r.stderr).not.toContain('agent killed by the test watchdog');
  }, 90_000);

  it.runIf(IS_ROOT).concurrent('a container runtime that fails before the sandbox exists ends the pilot as a node problem and it stays for the anti-black-hole delay', async (ctx) => {
    if (skipWithoutBwrap()) return ctx.skip();
    const account = ensureAccount(ACCOUNT);
    const { s, dir, work } = await scenarios.setup(60);
    chmodSync(dir, 0o711);
    const image = buildBusyboxImage(join(dir, 'image'));
    const bundle = await containerBundle(s, 'g-ctr-broken', image);
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { alice: ACCOUNT } });
    const policy = JSON.parse(readFileSync(site.policyPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(site.policyPath, JSON.stringify({ ...policy, launchAttempts: 1, containers: { runtime: 'bwrap' } }));
    // A bwrap that fails as bubblewrap does with user namespaces off.
    const bin = join(dir, 'broken-bin');
    mkdirSync(bin, { mode: 0o755 });
    writeFileSync(join(bin, 'bwrap'), '#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n', { mode: 0o755 });
    const outDir = join(dir, 'out');
    mkdirSync(outDir, { mode: 0o700 });
    chownSync(outDir, account.uid, account.gid);
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    for (const id of ['job1', 'job2']) {
      writeFileSync(join(spool, `${id}.json`), JSON.stringify({ id, executable: '/bin/true', cwd: outDir, identity: await site.identityToken('alice', 600) }));
    }
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '30', '--failure-delay', '1'], { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` }).done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('the container runtime failed on this node');
    expect(r.stderr).toContain('staying for the anti-black-hole delay');
    expect(summaryOf(r.stdout)).toMatchObject({ reason: 'container-runtime-failed', exitCode: 1 });
  }, 90_000);
});
