// Credentials of a job in a container (issue 22), through the programmatic API (startJob), real
// bwrap, a busybox image, a real mapped account: a fresher J-CRED handed to the running job is what
// it reads inside (the credential directory is bound, not the file), and a credential that expires
// stops the whole container (reason credential-expired, nothing of it left).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IS_ROOT } from '../helpers/accounts.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';
import { parseCredential } from '../../shared/credential.ts';
import { silentLogger } from '../../shared/log.ts';
import { CredStore } from '../../agent/store/index.ts';
import { loadPolicy, parseJobSpec, startJob } from '../../agent/sandbox/index.ts';
import { makeFixture, type SandboxFixture } from './sandbox-fixture.ts';

let fx: SandboxFixture;
let image: string;
let policyPath: string;
let skip = false;

/** A pilot work dir the mapped accounts can traverse (as a pilot's is: cred.d/jobs/<id> must be reachable). */
function storeDir(): string {
  const d = fx.workdir();
  chmodSync(d, 0o711);
  return d;
}

async function until(test: () => boolean): Promise<void> {
  while (!test()) await sleep(20);
}

function userProcesses(user: string): string[] {
  try {
    return execFileSync('ps', ['-u', user, '-o', 'stat=,pid=,args=']).toString().split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z'));
  } catch {
    return [];
  }
}

describe.skipIf(!IS_ROOT)('credentials of a job in a container', () => {
  beforeAll(async () => {
    skip = skipWithoutBwrap();
    fx = await makeFixture(['glctrcra', 'glctrcrb']);
    const images = join(fx.dir, 'images');
    mkdirSync(images, { mode: 0o755 });
    if (!skip) image = buildBusyboxImage(join(images, 'busybox'));
    policyPath = fx.policy({ identity: 'setuid', containers: { runtime: 'bwrap', allowedImageRoots: [images] } });
  });
  afterAll(() => fx?.cleanup());

  it('a fresher J-CRED given to the running job is the one it reads inside', async (ctx) => {
    if (skip) return ctx.skip();
    const oldTok = await fx.token({ sub: 'alice-storage' });
    const w = fx.workdir(fx.users.a);
    const script = 'touch /srv/started; while [ "$(cat "$BEARER_TOKEN_FILE")" = "$OLD" ]; do sleep 0.1; done; cat "$BEARER_TOKEN_FILE" > /srv/seen';
    const spec = parseJobSpec({
      id: 'ctr-update', executable: '/bin/sh', args: ['-c', script], env: { OLD: oldTok }, cwd: w, limits: { wallclockSeconds: 60 },
      identity: await fx.token({ sub: 'alice' }), credentials: [{ purpose: 'storage', type: 'scitoken', token: oldTok }], container: { image },
    });
    const store = await CredStore.open(storeDir());
    const handle = startJob(spec, { policy: await loadPolicy(policyPath), store, log: silentLogger });
    await until(() => existsSync(join(w, 'started')));
    const fresh = parseCredential({ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'alice-storage', exp: Math.floor(Date.now() / 1000) + 7200 }) });
    expect(handle.updateCredential(fresh)).toEqual({ ok: true });
    const r = await handle.result;
    expect(r).toMatchObject({ state: 'completed', exitCode: 0, uid: fx.users.a.uid });
    expect(readFileSync(join(w, 'seen'), 'utf8')).toBe(fresh.token);
  });

  it('a credential about to expire stops the whole container: credential-expired, 0 processes left', async (ctx) => {
    if (skip) return ctx.skip();
    // Deadline: exp - the fixture's 2 s grace.
    const tok = await fx.token({ sub: 'bob-storage', exp: Math.floor(Date.now() / 1000) + 6 });
    const w = fx.workdir(fx.users.b);
    const spec = parseJobSpec({
      id: 'ctr-expire', executable: '/bin/sh', args: ['-c', '(sleep 1000 &); touch /srv/started; sleep 1001'], cwd: w, limits: { wallclockSeconds: 60 },
      identity: await fx.token({ sub: 'bob' }), credentials: [{ purpose: 'storage', type: 'scitoken', token: tok }], container: { image },
    });
    const store = await CredStore.open(storeDir());
    const r = await startJob(spec, { policy: await loadPolicy(policyPath), store, log: silentLogger }).result;
    expect(existsSync(join(w, 'started')), JSON.stringify(r)).toBe(true);
    expect(r).toMatchObject({ state: 'killed' });
    expect(r.reason).toMatch(/^credential-expired/);
    expect(userProcesses(fx.users.b.name)).toEqual([]);
  });

  it("a credential directory the account cannot reach is held naming it, not a payload exit 1 from inside bwrap", async (ctx) => {
    if (skip) return ctx.skip();
    const w = fx.workdir(fx.users.a);
    const spec = parseJobSpec({
      id: 'ctr-unreachable', executable: '/bin/true', cwd: w, identity: await fx.token({ sub: 'alice' }),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await fx.token({ sub: 'alice-storage' }) }], container: { image },
    });
    // A pilot dir of mode 0700 owned by root: the account cannot traverse to cred.d/jobs/<id>.
    const store = await CredStore.open(fx.workdir());
    const r = await startJob(spec, { policy: await loadPolicy(policyPath), store, log: silentLogger }).result;
    expect(r).toMatchObject({ state: 'held', launchError: { stage: 'container', code: 'EACCES', permanent: true } });
    expect(r.reason).toContain("credential directory");
  });
});
