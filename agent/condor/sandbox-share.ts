// Handing an HTCondor job's scratch dir to the mapped account (issue 14, item 4). The starter
// makes the scratch dir (input files, the job's stdout/stderr files) for the pilot's uid; the
// switched job runs as another account and must read, write and create files there, and the
// starter must still read what the job wrote (output transfer). The pilot adds POSIX ACL
// entries for the account, plus default entries for both sides on directories (setfacl, Debian
// package `acl`); setfacl walks physically (-P: it never follows a symlink to a directory).
// Nothing is opened to "other": no third account gains access. When the job has ended, the
// account's entry on the scratch dir itself is taken back before the scratch dir is scrubbed
// (scratch-scrub.ts), so nothing of the account can add an entry there by path any more.
// (The pilot is never root in HTCondor mode; the chown walk by path it once had is gone.)
import { execFile } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';

export interface ShareTarget {
  dir: string;
  account: { name: string; uid: number; gid: number };
}

function setfacl(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('setfacl', args, { timeout: 30_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, _out, stderr) => {
      if (!err) resolve(null);
      else resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'setfacl is not installed (Debian/EL package acl)' : String(stderr || err.message).trim().slice(0, 300));
    });
  });
}

/** Give the account the scratch dir (ACL entries); a permanent launch error when that fails. */
export async function shareScratchDir(t: ShareTarget): Promise<{ ok: true } | { ok: false; error: LaunchError }> {
  const st = lstatSync(t.dir);
  const me = process.geteuid?.() ?? st.uid;
  const user = `u:${t.account.uid}:rwX`;
  const err =
    (await setfacl(['-R', '-P', '-m', `${user},m::rwx`, t.dir])) ??
    // New files and dirs: the account and the pilot (the starter transfers output) keep access.
    (await setfacl(['-R', '-P', '-d', '-m', `${user},u:${me}:rwX,m::rwx`, t.dir]));
  if (err) return { ok: false, error: launchError('sandbox', 'EACCES', `cannot give ${t.account.name} the job's scratch dir ${t.dir}: ${err}`, true) };
  return { ok: true };
}

/** Take the account's access to the scratch dir itself back (its access entry and default entry). */
export async function revokeScratchDir(t: ShareTarget): Promise<string | null> {
  return (await setfacl(['-x', `u:${t.account.uid}`, t.dir])) ?? (await setfacl(['-d', '-x', `u:${t.account.uid}`, t.dir]));
}
