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
  try {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], { stdio: 'pipe' });
  } catch (e) {
    // Another test file may have created it at the same moment.
    const again = lookup(name);
    if (again) return again;
    throw e;
  }
  return lookup(name)!;
}

export function removeAccount(name: string): void {
  try {
    execFileSync('userdel', [name], { stdio: 'pipe' });
  } catch {
    /* already gone */
  }
}
