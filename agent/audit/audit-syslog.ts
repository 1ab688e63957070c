// Audit records to syslog (issue 25): facility LOG_AUTHPRIV, the one gLExec and sudo use, which
// rsyslog keeps in /var/log/secure (EL) or /var/log/auth.log (Debian) and journald indexes with
// the sender's kernel-given _UID. Node has no unix datagram sockets, and /dev/log is one, so the
// record goes through util-linux `logger` (on every EL and Debian node), the message on its stdin
// (argv is world-readable in ps), with --socket-errors=on so that a missing or refusing socket is
// an error we see, never a record dropped in silence.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { AUDIT_TAG } from './audit-record.ts';

const LOGGER_PATHS = ['/usr/bin/logger', '/bin/logger'];
const TIMEOUT_MS = 10_000;

function findLogger(): string | null {
  for (const p of LOGGER_PATHS) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Send one message to the syslog socket; null when logger delivered it, else why not. */
export function sendSyslog(socket: string, message: string): Promise<string | null> {
  const logger = findLogger();
  if (!logger) return Promise.resolve(`syslog ${socket}: util-linux logger not found (${LOGGER_PATHS.join(', ')})`);
  return new Promise((resolve) => {
    const args = ['--socket-errors=on', '-u', socket, '-p', 'authpriv.notice', '-t', AUDIT_TAG, '--size', '16384'];
    const p = spawn(logger, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, timeout: TIMEOUT_MS });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-500)));
    p.on('error', (e) => resolve(`syslog ${socket}: cannot run ${logger} (${e.message})`));
    p.on('close', (code, signal) => {
      if (code === 0) resolve(null);
      else resolve(`syslog ${socket}: ${logger} ${signal ? `killed by ${signal}` : `exited ${code}`}${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`);
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(`${message}\n`);
  });
}
