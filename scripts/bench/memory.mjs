// Resident memory of a process for the memory benchmarks (issue 27 section 5): from
// /proc/PID/smaps_rollup, VmRSS split into anonymous pages (heaps: what the process made) and
// file-backed pages (the executable's image as far as it was touched, which depends on how its
// pages came into the page cache), and PSS (each shared page divided among the processes that
// map it). The largest mappings on request (GLIDEIN_BENCH_SMAPS=1, for finding what holds
// memory), and the baseline every memory figure is set against: an idle `node` of the same Node.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { sleep } from './stats.mjs';

const MiB = (kB) => Math.round((kB / 1024) * 10) / 10;

/** The kB fields of /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon, Pss_File, Anonymous, …). */
function rollupKb(pid) {
  const fields = {};
  for (const m of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) fields[m[1]] = Number(m[2]);
  if (fields.Rss === undefined) throw new Error(`no Rss in /proc/${pid}/smaps_rollup`);
  return fields;
}

/**
 * One process's memory in MiB: rss (VmRSS), rssAnon and rssFile (file-backed = Rss less
 * anonymous and shmem pages), pss, and pss split the same way.
 */
export function memorySplit(pid) {
  const f = rollupKb(pid);
  const shmem = f.Pss_Shmem ?? 0;
  return {
    rss: MiB(f.Rss),
    rssAnonMiB: MiB(f.Anonymous ?? 0),
    rssFileMiB: MiB(f.Rss - (f.Anonymous ?? 0) - shmem),
    pssMiB: MiB(f.Pss),
    pssAnonMiB: MiB(f.Pss_Anon ?? 0),
    pssFileMiB: MiB(f.Pss_File ?? 0),
  };
}

/** With GLIDEIN_BENCH_SMAPS set, the resident mappings over 512 kB on stderr. */
export function dumpLargestMappings(pid, label) {
  if (!process.env.GLIDEIN_BENCH_SMAPS) return;
  let current = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) current = line;
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && Number(m[1]) > 512) console.error(`${label} ${m[1].padStart(7)} kB  ${current}`);
  }
}

/**
 * Put `file` in the page cache the way an installed executable is: written back and dropped
 * (fsync, then `dd iflag=nocache count=0`, which asks the kernel to drop its cached pages), so
 * the next start reads it as from disk. Pages still fresh from the build (postject writes the
 * whole file) map differently: 10 to 20 MiB more file-backed RSS. Returns how, or why not.
 */
export function settleFile(file) {
  try {
    const fd = openSync(file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `not settled: ${e.message}`;
  }
  const dd = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
  return dd.status === 0 ? 'fsync + dd iflag=nocache' : 'fsync only (dd iflag=nocache failed)';
}

/** The memory of `node -e 'setInterval(()=>{},1e3)'` (the Node running this script) after a second. */
export async function idleNode() {
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1000);
    return memorySplit(idle.pid);
  } finally {
    idle.kill('SIGKILL');
  }
}

/** A process's memory split and the largest mappings (see above), then the idle-node baseline's. */
export async function memoryFigures(pid, label) {
  const own = memorySplit(pid);
  dumpLargestMappings(pid, label);
  const node = await idleNode();
  return { ...own, nodeIdleRssMiB: node.rss, nodeIdle: node };
}
