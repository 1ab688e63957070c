// Resident memory of a process for the memory benchmarks: VmRSS, its split into anonymous and
// file-backed pages, the largest mappings (GLIDEIN_BENCH_SMAPS=1, for finding what holds memory),
// and the baseline every memory figure is set against: an idle `node` of the same Node.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep } from './stats.mjs';

const MiB = (kB) => Math.round((kB / 1024) * 10) / 10;

function statusKb(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${key} for pid ${pid}`);
  return Number(m[1]);
}

/** VmRSS in MiB (one decimal). */
export function rssMiB(pid) {
  return MiB(statusKb(pid, 'VmRSS'));
}

/** Anonymous memory (heaps) vs file-backed pages (the executable's mapped image) vs shared. */
export function rssBreakdown(pid) {
  return { rssAnonMiB: MiB(statusKb(pid, 'RssAnon')), rssFileMiB: MiB(statusKb(pid, 'RssFile')), rssShmemMiB: MiB(statusKb(pid, 'RssShmem')) };
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

/** VmRSS of `node -e 'setInterval(()=>{},1e3)'` (the Node running this script) after a second. */
export async function idleNodeRssMiB() {
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1000);
    return rssMiB(idle.pid);
  } finally {
    idle.kill('SIGKILL');
  }
}

/** A process's VmRSS, its split and the largest mappings (see above), then the idle-node baseline. */
export async function memoryFigures(pid, label) {
  const rss = rssMiB(pid);
  const breakdown = rssBreakdown(pid);
  dumpLargestMappings(pid, label);
  return { rss, ...breakdown, nodeIdleRssMiB: await idleNodeRssMiB() };
}
