// Fakeroot mode (issue 22; DESIGN.md section 6, container): Apptainer's `--fakeroot` maps a whole
// block of ids into the container through /etc/subuid and /etc/subgid and the setuid helpers
// newuidmap/newgidmap. It is "present" when both files give the validating account a block (by
// name or uid), and "working" when a real user namespace gets that block mapped:
// `unshare --user --map-auto --map-root-user cat /proc/self/uid_map` shows more than the one
// line of the account itself. glidein's own containers do not use it (they run as the job's
// account); validation reports it, as GlideinWMS's GWMS_SINGULARITY_MODE does.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { findOnPath, readText, type Host } from '../host.ts';
import { runProbe } from '../probe.ts';

export interface FakerootFacts {
  /** The subuid/subgid block is present and a user namespace really got it mapped. */
  ok: boolean;
  detail: string;
}

/** The first `name|uid:start:count` line of a subid file for the account, as "start:count", or null. */
export function subidBlock(text: string | undefined, name: string | null, uid: number): string | null {
  for (const line of (text ?? '').split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who === undefined || start === undefined || count === undefined || !/^\d+$/.test(start) || !/^[1-9]\d*$/.test(count)) continue;
    if (who === String(uid) || (name !== null && who === name)) return `${start}:${count}`;
  }
  return null;
}

function accountName(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null; // no passwd entry for this uid
  }
}

export async function collectFakeroot(host: Host, options: { timeoutMs: number; signal: AbortSignal }): Promise<FakerootFacts> {
  const uid = process.getuid?.() ?? -1;
  const name = accountName();
  const who = name ?? `uid ${uid}`;
  const subuid = subidBlock(await readText(join(host.etcRoot, 'subuid')), name, uid);
  const subgid = subidBlock(await readText(join(host.etcRoot, 'subgid')), name, uid);
  if (!subuid || !subgid) return { ok: false, detail: `no ${!subuid ? '/etc/subuid' : '/etc/subgid'} block for ${who}` };
  const present = `subuid ${subuid}, subgid ${subgid}`;
  const [unshare, newuidmap, cat] = await Promise.all([findOnPath('unshare', host), findOnPath('newuidmap', host), findOnPath('cat', host)]);
  if (!newuidmap) return { ok: false, detail: `${present} present, but no newuidmap (package uidmap) to map it` };
  if (!unshare || !cat) return { ok: false, detail: `${present} present, but no unshare to try it` };
  const env = { PATH: host.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  const r = await runProbe(unshare, ['--user', '--map-auto', '--map-root-user', cat, '/proc/self/uid_map'], { timeoutMs: options.timeoutMs, env, signal: options.signal });
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (r.code === 0 && lines.length > 1) return { ok: true, detail: `${present}: mapped in a user namespace (${lines.length} uid_map lines)` };
  const why = r.timedOut ? 'timed out' : (r.stderr.trim().split('\n')[0] || r.spawnError || `exit ${r.code}, ${lines.length} uid_map line(s)`);
  return { ok: false, detail: `${present} present, but mapping it failed: ${why}` };
}
