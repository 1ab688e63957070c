// Local account lookup. /etc/passwd is read first (sub-millisecond, and "files" leads the passwd
// line of nsswitch.conf almost everywhere); an account not found there goes through NSS
// (`getent passwd`), so LDAP/SSSD accounts work too. The getent process costs ~5 ms per launch.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

function parsePasswdLine(line: string, name: string): Account | null {
  const fields = line.split(':');
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (fields.length < 7 || fields[0] !== name || fields[2] === '' || fields[3] === '' || !Number.isInteger(uid) || !Number.isInteger(gid)) return null;
  return { name, uid, gid, home: fields[5] || '/' };
}

async function fromPasswdFile(name: string, file: string): Promise<Account | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const prefix = `${name}:`;
  for (const line of text.split('\n')) {
    if (line.startsWith(prefix)) return parsePasswdLine(line, name);
  }
  return null;
}

function fromNss(name: string): Promise<Account | null> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', '--', name], { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout) => {
      if (err) return resolve(null);
      resolve(parsePasswdLine(stdout.toString().trim().split('\n')[0] ?? '', name));
    });
  });
}

export async function lookupAccount(name: string, options: { passwdFile?: string } = {}): Promise<Account | null> {
  return (await fromPasswdFile(name, options.passwdFile ?? '/etc/passwd')) ?? (await fromNss(name));
}

/**
 * Why `account` may not run a payload, or null: root itself, or an account whose primary group
 * is root's (gid 0): its processes would run with group root and its files would be group root,
 * which opens every group-root-writable file and directory on the node (issue 11, item 10).
 */
export function privilegedAccountReason(account: Pick<Account, 'uid' | 'gid'>): string | null {
  if (account.uid === 0) return 'is root (uid 0)';
  if (account.gid === 0) return "has root's group (gid 0) as its primary group";
  return null;
}
