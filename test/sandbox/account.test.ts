import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupAccount } from '../../agent/sandbox/account.ts';

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
