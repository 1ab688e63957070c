// Handing an HTCondor job's scratch dir to the mapped account (issue 14, item 4). The starter
// makes the scratch dir (input files, the job's stdout/stderr files) for the pilot's uid; the
// switched job runs as another account and must read, write and create files there, and the
// starter must still read what the job wrote (output transfer). Root (setuid mode) changes the
// owner and gives it back afterwards; a non-root pilot (helper mode) cannot, so it adds POSIX
// ACL entries for the account, plus default entries for both sides on directories (setfacl,
// Debian package `acl`). Nothing is opened to "other": no third account gains access.
import { execFile } from 'node:child_process';
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';

export interface ShareTarget {
  dir: string;
  account: { name: string; uid: number; gid: number };
}

function walk(dir: string, fn: (path: string) => void): void {
  fn(dir);
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p, fn);
    else fn(p);
  }
}

function setfacl(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('setfacl', args, { timeout: 30_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, _out, stderr) => {
      if (!err) resolve(null);
      else resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'setfacl is not installed (Debian/EL package acl)' : String(stderr || err.message).trim().slice(0, 300));
    });
  });
}

/** Give the account the scratch dir; returns a function that takes it back (root) or null (ACLs stay). */
export async function shareScratchDir(t: ShareTarget): Promise<{ ok: true; restore: () => void } | { ok: false; error: LaunchError }> {
  const st = lstatSync(t.dir);
  if (process.geteuid?.() === 0) {
    const owner = { uid: st.uid, gid: st.gid };
    walk(t.dir, (p) => lchownSync(p, t.account.uid, t.account.gid));
    return { ok: true, restore: () => walk(t.dir, (p) => lchownSync(p, owner.uid, owner.gid)) };
  }
  const me = process.geteuid?.() ?? st.uid;
  const user = `u:${t.account.uid}:rwX`;
  const err =
    (await setfacl(['-R', '-m', `${user},m::rwx`, t.dir])) ??
    // New files and dirs: the account and the pilot (the starter transfers output) keep access.
    (await setfacl(['-R', '-d', '-m', `${user},u:${me}:rwX,m::rwx`, t.dir]));
  if (err) return { ok: false, error: launchError('sandbox', 'EACCES', `cannot give ${t.account.name} the job's scratch dir ${t.dir}: ${err}`, true) };
  return { ok: true, restore: () => undefined };
}
