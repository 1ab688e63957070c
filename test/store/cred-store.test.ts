import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { CredStore } from '../../agent/store/index.ts';
import { CONDOR_EXCLUDED_NAME } from '../../agent/store/cred-store.ts';
import { createLogger } from '../../shared/log.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import type { TestAccount } from '../helpers/accounts.ts';

const ACCOUNTS = ['glstorejoba', 'glstorejobb'] as const;
const ME = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
let alice: TestAccount;
let bob: TestAccount;
const dirs: string[] = [];

beforeAll(() => {
  if (IS_ROOT) [alice, bob] = ACCOUNTS.map((n) => ensureAccount(n)) as [TestAccount, TestAccount];
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (IS_ROOT) ACCOUNTS.forEach((n) => removeAccount(n));
});

/** A work dir that mapped accounts can traverse (as a real pilot's work dir must be). */
function workdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'glstore-cs-'));
  chmodSync(d, 0o711);
  dirs.push(d);
  return d;
}

function modeOwner(path: string): [string, number, number] {
  const st = lstatSync(path);
  return [(st.mode & 0o7777).toString(8), st.uid, st.gid];
}

/** Run a command as a test account; returns exit status and output. */
function as(account: TestAccount, cmd: string, args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(cmd, args, { uid: account.uid, gid: account.gid, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

async function idtoken(exp: number): Promise<string> {
  return new SignJWT({ scope: 'condor:/READ condor:/ADVERTISE_STARTD condor:/ADVERTISE_MASTER', jti: 'a'.repeat(32) })
    .setProtectedHeader({ alg: 'HS256', kid: 'POOL' })
    .setIssuer('pool.example.org')
    .setSubject('site@pool.example.org')
    .setIssuedAt(exp - 3600)
    .setExpirationTime(exp)
    .sign(new Uint8Array(32).fill(7));
}

describe('CredStore layout', () => {
  it.skipIf(!IS_ROOT)('gives every directory and file its mode and owner (root pilot, real mapped account)', async () => {
    const store = await CredStore.open(workdir());
    const refresh = await store.writePilot('refresh', 'rt-secret', null);
    const tok = await store.writeIdtoken('pool', await idtoken(2_000_000_000));
    const jobDir = await store.createJobDir('job-1', { uid: alice.uid, gid: alice.gid });
    const bt = await store.writeJobCredential('job-1', 'bearer', 'jcred-secret', 2_000_000_000);
    expect(jobDir).toBe(join(store.jobsDir, 'job-1'));
    expect(Object.fromEntries([
      ['cred.d', store.root], ['pilot', store.pilotDir], ['idtokens', store.idtokenDir], ['jobs', store.jobsDir],
      ['job dir', jobDir], ['refresh', refresh], ['idtoken', tok], ['job cred', bt],
    ].map(([k, p]) => [k, modeOwner(p!)]))).toEqual({
      'cred.d': ['711', 0, 0],
      pilot: ['700', 0, 0],
      idtokens: ['700', 0, 0],
      jobs: ['711', 0, 0],
      'job dir': ['700', alice.uid, alice.gid],
      refresh: ['600', 0, 0],
      idtoken: ['600', 0, 0],
      'job cred': ['600', alice.uid, alice.gid],
    });
    expect((await store.readJobCredential('job-1', 'bearer')).toString()).toBe('jcred-secret');
  });

  it.skipIf(!IS_ROOT)('lets a mapped account read only its own job credentials and list nothing else', async () => {
    const store = await CredStore.open(workdir());
    await store.writePilot('refresh', 'rt-secret', null);
    await store.writeIdtoken('pool', await idtoken(2_000_000_000));
    await store.createJobDir('a', alice);
    await store.createJobDir('b', bob);
    const mine = await store.writeJobCredential('a', 'bearer', 'alice-secret', null);
    const theirs = await store.writeJobCredential('b', 'bearer', 'bob-secret', null);
    expect(as(alice, 'cat', [mine])).toEqual({ status: 0, stdout: 'alice-secret' });
    expect(as(alice, 'ls', [join(store.jobsDir, 'a')]).stdout.trim()).toBe('bearer');
    for (const [cmd, path] of [
      ['ls', store.root],
      ['ls', store.jobsDir],
      ['ls', store.pilotDir],
      ['cat', join(store.pilotDir, 'refresh')],
      ['cat', join(store.idtokenDir, 'pool')],
      ['ls', join(store.jobsDir, 'b')],
      ['cat', theirs],
    ] as const) {
      expect({ cmd, path, status: as(alice, cmd, [path]).status }).toEqual({ cmd, path, status: 1 + (cmd === 'ls' ? 1 : 0) });
    }
  });

  it('repairs the modes of an existing store and refuses a symlink in place of one of its directories', async () => {
    const wd = workdir();
    mkdirSync(join(wd, 'cred.d', 'pilot'), { recursive: true, mode: 0o755 });
    chmodSync(join(wd, 'cred.d'), 0o755);
    const store = await CredStore.open(wd);
    expect(modeOwner(store.root)[0]).toBe('711');
    expect(modeOwner(store.pilotDir)[0]).toBe('700');

    const wd2 = workdir();
    const elsewhere = mkdtempSync(join(tmpdir(), 'glstore-elsewhere-'));
    dirs.push(elsewhere);
    mkdirSync(join(wd2, 'cred.d'));
    symlinkSync(elsewhere, join(wd2, 'cred.d', 'idtokens'));
    await expect(CredStore.open(wd2)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses a work dir that others could write to without the sticky bit', async () => {
    const wd = workdir();
    chmodSync(wd, 0o777);
    await expect(CredStore.open(wd)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    chmodSync(wd, 0o1777);
    await expect(CredStore.open(wd)).resolves.toBeInstanceOf(CredStore);
  });

  it.skipIf(!IS_ROOT)('refuses a work dir or a cred.d that another account owns', async () => {
    const wd = workdir();
    chownSync(wd, alice.uid, alice.gid);
    await expect(CredStore.open(wd)).rejects.toThrow(`owned by uid ${alice.uid}`);
    const wd2 = workdir();
    mkdirSync(join(wd2, 'cred.d'), { mode: 0o711 });
    chownSync(join(wd2, 'cred.d'), alice.uid, alice.gid);
    await expect(CredStore.open(wd2)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    expect(modeOwner(join(wd2, 'cred.d'))[1]).toBe(alice.uid);
  });

  it.skipIf(!IS_ROOT)('refuses to hand one account\'s job dir to another account', async () => {
    const store = await CredStore.open(workdir());
    await store.createJobDir('j', alice);
    await expect(store.createJobDir('j', bob)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    expect(modeOwner(join(store.jobsDir, 'j'))[1]).toBe(alice.uid);
    await expect(store.createJobDir('j', alice)).resolves.toBe(join(store.jobsDir, 'j'));
  });

  it('refuses to read a pilot credential that was made group-readable', async () => {
    const store = await CredStore.open(workdir());
    const p = await store.writePilot('dpop.key', 'key-secret', null);
    chmodSync(p, 0o640);
    await expect(store.readPilot('dpop.key')).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
    await expect(store.readPilot('dpop.key')).rejects.toThrow(p);
  });

  it.each([
    ['writePilot', (s: CredStore) => s.writePilot('../escape', 'x', null)],
    ['readPilot', (s: CredStore) => s.readPilot('../../etc/passwd')],
    ['writeIdtoken', (s: CredStore) => s.writeIdtoken('/abs', 'a.b.c')],
    ['createJobDir', (s: CredStore) => s.createJobDir('..')],
    ['writeJobCredential id', (s: CredStore) => s.writeJobCredential('../pilot', 'refresh', 'x', null)],
    ['writeJobCredential name', (s: CredStore) => s.writeJobCredential('j', '../../pilot/refresh', 'x', null)],
    ['wipe', (s: CredStore) => s.wipe('../pilot')],
    ['NUL in a job id', (s: CredStore) => s.createJobDir('j\u0000')],
  ])('%s with a traversal name fails with GLIDEIN_ERR_STORE_NAME and creates nothing', async (_label, op) => {
    const wd = workdir();
    const store = await CredStore.open(wd);
    await store.writePilot('refresh', 'keep', null);
    await expect(op(store)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_NAME' });
    expect(readdirSync(wd)).toEqual(['cred.d']);
    expect(readdirSync(store.jobsDir)).toEqual([]);
    expect(readdirSync(store.pilotDir)).toEqual(['refresh']);
    expect((await store.readPilot('refresh')).toString()).toBe('keep');
  });

  it('records every stored credential in the expiry index, JWT expiry from exp', async () => {
    const store = await CredStore.open(workdir(), { now: () => 1_900_000_000 });
    await store.writePilot('refresh', 'rt', null);
    await store.writePilot('scitoken', 'jwt-ish', 1_900_000_600);
    await store.writeIdtoken('pool', await idtoken(1_900_003_600));
    await store.writeJobCredential('j1', 'bearer', 'b', 1_900_000_300);
    expect(store.expiry.entries()).toEqual([
      { key: 'jobs/j1/bearer', expiresAt: 1_900_000_300 },
      { key: 'pilot/scitoken', expiresAt: 1_900_000_600 },
      { key: 'idtokens/pool', expiresAt: 1_900_003_600 },
    ]);
    expect(store.expiry.get('pilot/refresh')).toBeNull();
  });

  it('never writes a secret to the log, even at debug level', async () => {
    const lines: string[] = [];
    const log = createLogger({ sink: { write: (l: string) => lines.push(l) }, level: 'debug', format: 'json' });
    const store = await CredStore.open(workdir(), { log });
    const jwt = await idtoken(2_000_000_000);
    await store.writePilot('refresh', 'rt-SECRET-1', null);
    await store.writeIdtoken('pool', jwt);
    await store.writeJobCredential('j', 'bearer', 'jc-SECRET-2', null);
    await store.wipe('j');
    await store.wipeAll();
    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    expect(all).not.toContain('SECRET');
    expect(all).not.toContain(jwt.split('.')[1]);
  });
});

describe('IDTOKEN directory', () => {
  it('holds exactly one JWT and a newline per file, 0600, owned by the reader, in a 0700 directory', async () => {
    const store = await CredStore.open(workdir());
    const jwt = await idtoken(2_000_000_000);
    const p = await store.writeIdtoken('collector', jwt);
    expect(readFileSync(p, 'utf8')).toBe(`${jwt}\n`);
    expect(modeOwner(p)).toEqual(['600', ME.uid, ME.gid]);
    expect(modeOwner(store.idtokenDir)).toEqual(['700', ME.uid, ME.gid]);
    // What HTCondor reads: every file not matching LOCAL_CONFIG_DIR_EXCLUDE_REGEXP, one JWT per line.
    const visible = readdirSync(store.idtokenDir).filter((n) => !CONDOR_EXCLUDED_NAME.test(n));
    expect(visible).toEqual(['collector']);
    const lines = readFileSync(p, 'utf8').split('\n');
    expect(lines).toEqual([jwt, '']);
    expect(lines[0]!.split('.')).toHaveLength(3);
    expect(await store.readIdtoken('collector')).toBe(jwt);
  });

  it('keeps half-written tokens out of HTCondor\'s sight: temp names are ones it skips', async () => {
    expect(CONDOR_EXCLUDED_NAME.test('.collector.tmp-123-abcdef')).toBe(true);
    const store = await CredStore.open(workdir());
    for (const name of ['#draft', 'old~', 'x.rpmsave']) {
      await expect(store.writeIdtoken(name, await idtoken(2_000_000_000))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_NAME' });
    }
  });

  it.each([
    ['two tokens', 'a.b.c\nd.e.f'],
    ['a trailing newline', 'eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln\n'],
    ['not a JWT', 'opaque'],
  ])('refuses %s as an IDTOKEN with GLIDEIN_ERR_TOKEN_MALFORMED', async (_label, value) => {
    const store = await CredStore.open(workdir());
    await expect(store.writeIdtoken('pool', value)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_TOKEN_MALFORMED' });
    expect(readdirSync(store.idtokenDir)).toEqual([]);
  });
});

describe('job credentials', () => {
  it.skipIf(!IS_ROOT)('do not follow a symlink the mapped account planted where its credential will be written', async () => {
    const store = await CredStore.open(workdir());
    const dir = await store.createJobDir('j', alice);
    const victim = join(workdir(), 'victim');
    writeFileSync(victim, 'root file', { mode: 0o644 });
    expect(as(alice, 'ln', ['-s', victim, join(dir, 'bearer')]).status).toBe(0);
    const p = await store.writeJobCredential('j', 'bearer', 'jcred', null);
    expect(readFileSync(victim, 'utf8')).toBe('root file');
    expect(modeOwner(victim)).toEqual(['644', 0, 0]);
    expect(lstatSync(p).isSymbolicLink()).toBe(false);
    expect(modeOwner(p)).toEqual(['600', alice.uid, alice.gid]);
  });

  it.skipIf(!IS_ROOT)('refuse a credential for another account than the job dir belongs to', async () => {
    const store = await CredStore.open(workdir());
    await store.createJobDir('j', alice);
    await expect(store.writeJobCredential('j', 'bearer', 'x', null, bob)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_UNSAFE' });
  });

  it('are created in a job dir of our own when no owner is given', async () => {
    const store = await CredStore.open(workdir());
    const p = await store.writeJobCredential('self', 'bearer', 'x', null);
    expect(modeOwner(join(store.jobsDir, 'self'))).toEqual(['700', ME.uid, ME.gid]);
    expect(modeOwner(p)).toEqual(['600', ME.uid, ME.gid]);
  });
});

describe('wipe', () => {
  it.skipIf(!IS_ROOT)('removes a job dir with files the mapped account made, without following its symlinks', async () => {
    const store = await CredStore.open(workdir());
    const dir = await store.createJobDir('j', alice);
    await store.writeJobCredential('j', 'bearer', 'x', 2_000_000_000);
    await store.writeJobCredential('other', 'bearer', 'y', 2_000_000_000);
    const outside = mkdtempSync(join(tmpdir(), 'glstore-outside-'));
    dirs.push(outside);
    writeFileSync(join(outside, 'keep'), 'keep');
    chownSync(outside, alice.uid, alice.gid);
    for (const args of [['mkdir', '-p', join(dir, 'sub/deeper')], ['touch', join(dir, 'sub/deeper/f')], ['ln', '-s', outside, join(dir, 'link')]]) {
      expect(as(alice, args[0]!, args.slice(1)).status).toBe(0);
    }
    chmodSync(join(dir, 'sub'), 0o000);
    await store.wipe('j');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(store.jobsDir)).toEqual(['other']);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('keep');
    expect(store.expiry.entries().map((e) => e.key)).toEqual(['jobs/other/bearer']);
  });

  it('of a job dir that is already gone succeeds', async () => {
    const store = await CredStore.open(workdir());
    await store.writeJobCredential('j', 'bearer', 'x', null);
    rmSync(join(store.jobsDir, 'j'), { recursive: true });
    await expect(store.wipe('j')).resolves.toBeUndefined();
    await expect(store.wipe('never-existed')).resolves.toBeUndefined();
  });

  it('wipeAll removes the whole store, leaves the work dir, and refuses later writes', async () => {
    const wd = workdir();
    writeFileSync(join(wd, 'payload-output'), 'keep');
    const store = await CredStore.open(wd);
    await store.writePilot('refresh', 'x', 2_000_000_000);
    await store.writeIdtoken('pool', await idtoken(2_000_000_000));
    await store.writeJobCredential('j', 'bearer', 'x', null, IS_ROOT ? alice : undefined);
    await store.wipeAll();
    expect(readdirSync(wd)).toEqual(['payload-output']);
    expect(store.expiry.entries()).toEqual([]);
    await expect(store.writePilot('refresh', 'x', null)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_IO' });
    await expect(store.wipeAll()).resolves.toBeUndefined();
  });
});
