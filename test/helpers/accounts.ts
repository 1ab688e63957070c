// Real Unix accounts for identity-switching tests (CI runs as root). Each test file uses its own
// account names; accounts are removed afterwards. Skips cleanly when not root.
import { execFileSync } from 'node:child_process';

export const IS_ROOT = process.getuid?.() === 0;

export interface TestAccount {
  name: string;
  uid: number;
  gid: number;
}

function lookup(name: string): TestAccount | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name]).toString().trim();
    const [, , uid, gid] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

/** Create (or reuse) a system account with no login shell and no home. Root only. */
export function ensureAccount(name: string): TestAccount {
  if (!/^gl[a-z0-9_]{1,28}$/.test(name)) throw new Error(`test account names start with 'gl': ${name}`);
  const existing = lookup(name);
  if (existing) return existing;
  accountTool('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], () => lookup(name) !== undefined);
  return lookup(name)!;
}

export function removeAccount(name: string): void {
  try {
    accountTool('userdel', [name], () => lookup(name) === undefined);
  } catch {
    /* already gone, or left for the next run to reuse */
  }
}

/**
 * useradd/userdel, again while another test file holds the passwd lock (shadow-utils exits 1
 * with "cannot lock /etc/passwd; try again later" when two run at once, or 10 for /etc/group).
 * `done` says the account is already as wanted (another file made or removed it meanwhile).
 */
function accountTool(tool: string, args: string[], done: () => boolean): void {
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync(tool, args, { stdio: 'pipe' });
      return;
    } catch (e) {
      if (done()) return;
      const stderr = String((e as { stderr?: Buffer }).stderr ?? '');
      if (attempt >= 50 || !/cannot lock|try again/i.test(stderr)) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 + Math.floor(Math.random() * 150));
    }
  }
}
