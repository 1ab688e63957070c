import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupAccount, privilegedAccountReason } from '../../agent/sandbox/account.ts';
import { resolveIdentity } from '../../agent/sandbox/identity.ts';
import { loadPolicy, type Policy } from '../../agent/sandbox/policy.ts';
import { IS_ROOT, removeAccount } from '../helpers/accounts.ts';
import { makeFixture, type SandboxFixture } from './sandbox-fixture.ts';
import { runCli } from '../helpers/run-cli.ts';

describe('account lookup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glidein-account-'));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nalice:x:4242:4343:Alice:/home/alice:/bin/sh\nbroken:x::5::/:/bin/sh\n');

  it('reads an account from the passwd file', async () => {
    expect(await lookupAccount('alice', { passwdFile: passwd })).toEqual({ name: 'alice', uid: 4242, gid: 4343, home: '/home/alice' });
  });

  it('does not take a prefix of another name for the account', async () => {
    expect(await lookupAccount('ali', { passwdFile: passwd })).toBeNull();
  });

  it('refuses a line with an empty uid instead of reading it as uid 0', async () => {
    expect(await lookupAccount('broken', { passwdFile: passwd })).toBeNull();
  });

  it('falls back to NSS (getent) for accounts the file does not list', async () => {
    const nobody = await lookupAccount('nobody', { passwdFile: join(dir, 'missing') });
    expect(nobody?.uid).toBe(65534);
  });

  it('answers null for an account that exists nowhere', async () => {
    expect(await lookupAccount('glidein-no-such-user-xyz')).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe.skipIf(!IS_ROOT)('accounts that would run a payload with root powers (real accounts)', () => {
  const GID0 = 'glacct_gid0';
  const SUP0 = 'glacct_sup0';
  let fx: SandboxFixture;
  let mapfile: string;

  beforeAll(async () => {
    fx = await makeFixture(['glacct_a', 'glacct_b']);
    removeAccount(GID0);
    // An ordinary uid whose primary group is root's: what a careless site account can look like.
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--gid', '0', GID0], { stdio: 'pipe' });
    removeAccount(SUP0);
    // Its own primary group, but a member of group root (gid 0) in /etc/group.
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', '--groups', '0', SUP0], { stdio: 'pipe' });
    mapfile = join(fx.dir, 'mapfile-gid0');
    writeFileSync(
      mapfile,
      [GID0, SUP0, fx.users.a.name].map((n, i) => `SCITOKENS /^https:\\/\\/issuer\\.example\\.org,${['gzero', 'gsup', 'alice'][i]}$/ ${n}\n`).join(''),
    );
  });
  afterAll(() => {
    removeAccount(SUP0);
    removeAccount(GID0);
    fx?.cleanup();
  });

  // The fixture's setuid policy through the parser, with this file's mapfile; the audience check
  // (another concern) is left out so the test stays on the account.
  const setuidPolicy = async (): Promise<Policy> => ({ ...(await loadPolicy(fx.policies.none)), identity: 'setuid', mapfile });

  it('a mapped account whose primary gid is 0 is refused like root', async () => {
    const account = await lookupAccount(GID0);
    expect(account?.gid).toBe(0);
    expect(account?.uid).not.toBe(0);
    expect(privilegedAccountReason(account!)).toMatch(/gid 0/);
    const policy = await setuidPolicy();
    const out = await resolveIdentity(await fx.token({ sub: 'gzero' }), policy);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error).toMatchObject({ stage: 'identity', code: 'ROOT_REFUSED', permanent: true });
  });

  it('a mapped account in group root (a supplementary gid 0) is held by the wrapper before anything runs', async () => {
    const w = fx.workdir();
    const marker = join(w, 'ran');
    const job = fx.job({ id: 'sup0', executable: '/bin/sh', args: ['-c', `touch ${marker}`], identity: await fx.token({ sub: 'gsup' }) });
    const r = await runCli(['exec', '--job', job, '--policy', fx.policy({ identity: 'setuid', mapfile }), '--log-format', 'json'], { source: true });
    expect(r.code, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'held', launchError: { stage: 'identity', code: 'ROOT_REFUSED', permanent: true } });
    expect(existsSync(marker)).toBe(false);
  });

  it('an ordinary mapped account with its own group is accepted', async () => {
    const policy = await setuidPolicy();
    const out = await resolveIdentity(await fx.token({ sub: 'alice' }), policy);
    expect(out.ok && out.account?.name).toBe(fx.users.a.name);
    expect(privilegedAccountReason({ uid: fx.users.a.uid, gid: fx.users.a.gid })).toBeNull();
  });
});
