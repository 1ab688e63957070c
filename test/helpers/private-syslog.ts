// A real syslog daemon on a private /dev/log (issue 25 tests): BusyBox syslogd, run with the
// command under test in a mount namespace of its own whose /dev is a fresh tmpfs holding the
// usual devices (bind-mounted from the real /dev) and syslogd's socket, so nothing reaches the
// machine's own log and the code under test uses its default /dev/log. Root only (mount namespace).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './system-tools.ts';

const SCRIPT = `set -e
T=$1; shift
mkdir -p "$T/olddev"
mount --rbind /dev "$T/olddev"
mount -t tmpfs -o mode=755,size=1m tmpfs /dev
for n in null zero full random urandom tty ptmx; do [ -e "$T/olddev/$n" ] && touch "/dev/$n" && mount --bind "$T/olddev/$n" "/dev/$n"; done
mkdir /dev/pts /dev/shm
mount --rbind "$T/olddev/pts" /dev/pts
mount --rbind "$T/olddev/shm" /dev/shm
ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
busybox syslogd -n -O "$T/syslog.out" &
SYSLOGD=$!
i=0; while [ ! -S /dev/log ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
set +e
"$@"
rc=$?
# A last message after everything the command sent (one socket, read in order): once syslogd has
# written it, it has written all before it.
echo "private-syslog-end-$$" | logger -t private-syslog
i=0; while ! grep -q "private-syslog-end-$$" "$T/syslog.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
kill $SYSLOGD
exit $rc
`;

/** Whether this machine can run it: root, unshare, busybox. */
export function privateSyslogAvailable(): boolean {
  return process.getuid?.() === 0 && findExecutable('unshare') !== undefined && findExecutable('busybox') !== undefined;
}

export interface PrivateSyslogRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every line syslogd wrote: `<date> <host> <facility>.<level> <tag>: <message>`. */
  syslog: string[];
}

/** Run argv in the private namespace with its own syslogd; what it printed and what syslogd logged. */
export function withPrivateSyslog(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<PrivateSyslogRun> {
  const dir = mkdtempSync(join(tmpdir(), 'glsyslog-'));
  const script = join(dir, 'ns.sh');
  writeFileSync(script, SCRIPT);
  return new Promise((resolve, reject) => {
    const p = spawn(findExecutable('unshare')!, ['-m', '--propagation', 'private', 'sh', script, dir, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      let syslog: string[] = [];
      try {
        syslog = readFileSync(join(dir, 'syslog.out'), 'utf8').split('\n').filter((l) => l !== '');
      } catch {
        /* syslogd never wrote */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, syslog });
    });
  });
}
