// Local account lookup through NSS (`getent passwd`), so LDAP/SSSD accounts work as well as /etc/passwd.
import { execFile } from 'node:child_process';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export function lookupAccount(name: string): Promise<Account | null> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', '--', name], { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout) => {
      if (err) return resolve(null);
      const fields = stdout.toString().trim().split('\n')[0]?.split(':') ?? [];
      const uid = Number(fields[2]);
      const gid = Number(fields[3]);
      if (fields[0] !== name || !Number.isInteger(uid) || !Number.isInteger(gid)) return resolve(null);
      resolve({ name, uid, gid, home: fields[5] || '/' });
    });
  });
}
