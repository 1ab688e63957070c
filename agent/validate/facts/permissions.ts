// Permission facts for identity switching: is every directory on the way to the job directories
// searchable by each target account? (Many gLExec deployments failed on exactly this: a 0700
// pilot scratch dir above the payload's dir.)
import { stat } from 'node:fs/promises';
import { resolve, dirname, join } from 'node:path';
import { readText, type Host } from '../host.ts';
import type { IdentityAccount } from '../types.ts';

export interface PathBlock {
  account: string;
  /** The first directory the account cannot search, or the error reaching it. */
  dir: string;
  reason: string;
}

export interface PermissionFacts {
  accounts: string[];
  paths: string[];
  blocked: PathBlock[];
}

/** Supplementary groups of each account from the group file (`name:x:gid:member,member`). */
function supplementaryGroups(groupFile: string, name: string): number[] {
  const out: number[] = [];
  for (const line of groupFile.split('\n')) {
    const f = line.split(':');
    if (f.length < 4) continue;
    if (f[3]!.split(',').map((s) => s.trim()).includes(name) && /^\d+$/.test(f[2]!)) out.push(Number(f[2]));
  }
  return out;
}

/** `/a/b/c` → [`/`, `/a`, `/a/b`, `/a/b/c`] */
function ancestry(path: string): string[] {
  const dirs: string[] = [];
  let p = resolve(path);
  for (;;) {
    dirs.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return dirs;
}

export async function collectPermissionFacts(host: Host, accounts: readonly IdentityAccount[], paths: readonly string[]): Promise<PermissionFacts> {
  const groupFile = (await readText(join(host.etcRoot, 'group'))) ?? '';
  const blocked: PathBlock[] = [];
  const cache = new Map<string, Promise<{ mode: number; uid: number; gid: number } | Error>>();
  const info = (dir: string) => {
    let p = cache.get(dir);
    if (!p) {
      p = stat(dir).then((s) => ({ mode: s.mode, uid: s.uid, gid: s.gid }), (e: Error) => e);
      cache.set(dir, p);
    }
    return p;
  };
  for (const account of accounts) {
    const groups = new Set([account.gid, ...supplementaryGroups(groupFile, account.name)]);
    outer: for (const path of paths) {
      for (const dir of ancestry(path)) {
        const s = await info(dir);
        if (s instanceof Error) {
          blocked.push({ account: account.name, dir, reason: s.message });
          break outer;
        }
        if (account.uid === 0) continue;
        const bit = s.uid === account.uid ? 0o100 : groups.has(s.gid) ? 0o010 : 0o001;
        if ((s.mode & bit) === 0) {
          const mode = (s.mode & 0o7777).toString(8).padStart(4, '0');
          blocked.push({ account: account.name, dir, reason: `mode ${mode} owner ${s.uid}:${s.gid} gives no search permission` });
          break outer;
        }
      }
    }
  }
  return { accounts: accounts.map((a) => a.name), paths: [...paths], blocked };
}
