// 'refresh-service serve' and its state dir (issue 26 item 4): a missing --state is refused
// (exit 2, not created) unless --init is given; a new service identity (state dir, signing key,
// admin token) is logged at warn level, a restart on the same dir is quiet; an existing dir
// that the account cannot write exits 2 naming the dir and the permission (as an ordinary
// account, root only), not an internal error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPoolKeyFile } from '../../../shared/idtoken.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../../helpers/accounts.ts';
import { skipWithout } from '../../helpers/system-tools.ts';
import { startServe } from './serve-process.ts';

const ACCOUNT = 'glrsstate';
let dir: string;
let config: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glidein-serve-state-'));
  await createPoolKeyFile(join(dir, 'POOL'));
  config = join(dir, 'rs.json');
  await writeFile(config, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: join(dir, 'POOL') }));
});
afterAll(async () => {
  if (IS_ROOT) removeAccount(ACCOUNT);
  await rm(dir, { recursive: true, force: true });
});

const args = (state: string, ...more: string[]) => [...more, '--state', state, '--config', config, '--listen', '127.0.0.1:0', '--log-format', 'json'];
const warnLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'new service identity made');

describe('refresh-service serve --state', () => {
  it('refuses a state dir that does not exist without --init, and creates nothing', async () => {
    const missing = join(dir, 'typo', 'state');
    const s = await startServe(args(missing));
    expect(s.url).toBeUndefined();
    expect(s.code).toBe(2);
    expect(s.stderr()).toContain(`state directory ${missing} does not exist: give --init`);
    expect(s.stderr()).toContain('GLIDEIN_ERR_CONFIG');
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });

  it('with --init makes the dir and warns of the new identity; a restart without --init is quiet', async () => {
    const state = join(dir, 'new-state');
    const first = await startServe(args(state, '--init'));
    expect(first.url, first.stderr()).toBeDefined();
    expect(await first.stop()).toBe(0);
    const [warn] = warnLines(first.stderr());
    expect(warn).toMatchObject({ level: 'warn', state });
    expect((warn!['made'] as string[]).join(' ')).toMatch(/state directory.*S-CRED signing key.*admin token/);
    const again = await startServe(args(state));
    expect(again.url, again.stderr()).toBeDefined();
    expect(await again.stop()).toBe(0);
    expect(warnLines(again.stderr())).toEqual([]);
  });

  it('accepts an existing empty dir without --init, warning of the new keys and admin token', async () => {
    const state = join(dir, 'empty-state');
    await mkdir(state, { mode: 0o700 });
    const s = await startServe(args(state));
    expect(s.url, s.stderr()).toBeDefined();
    expect(await s.stop()).toBe(0);
    const [warn] = warnLines(s.stderr());
    expect((warn!['made'] as string[]).join(' ')).toMatch(/^S-CRED signing key .* admin token /);
  });

  it('exits 2 naming the dir and the permission when an ordinary account cannot write it', async (t) => {
    if (skipWithout('root (to create a test account)', IS_ROOT, 'run the tests as root')) return t.skip();
    const acct = ensureAccount(ACCOUNT);
    // The account reads the config and its own POOL key; the state dir is root's.
    const mine = join(dir, 'acct');
    await mkdir(mine, { mode: 0o755 });
    await chmod(dir, 0o755);
    await createPoolKeyFile(join(mine, 'POOL'));
    await chown(join(mine, 'POOL'), acct.uid, acct.gid);
    const acctConfig = join(mine, 'rs.json');
    await writeFile(acctConfig, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: join(mine, 'POOL') }), { mode: 0o644 });
    const state = join(dir, 'roots-state');
    await mkdir(state, { mode: 0o700 });
    const s = await startServe(['--state', state, '--config', acctConfig, '--listen', '127.0.0.1:0', '--log-format', 'json'], { uid: acct.uid, gid: acct.gid });
    expect(s.url).toBeUndefined();
    expect(s.code, s.stderr()).toBe(2);
    const line = JSON.parse(s.stderr().trim().split('\n').pop()!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', code: 'GLIDEIN_ERR_CONFIG', errno: 'EACCES' });
    expect(line['msg']).toContain(`state directory ${state} is not writable by this account (uid ${acct.uid}): EACCES: permission denied`);
    expect(s.stderr()).not.toMatch(/GLIDEIN_ERR_INTERNAL|\n\s+at /);
  });
});
