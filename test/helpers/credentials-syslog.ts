// A syslog socket that records who sent each message (issue 25 tests): a Python listener on a
// private unix datagram socket with SO_PASSCRED, writing {uid, msg} per datagram, as journald
// (_UID) and rsyslog's trusted properties do: the sender's uid comes from the kernel
// (SCM_CREDENTIALS), not from the message, so a forged line cannot claim root.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable } from './system-tools.ts';

const LISTENER = `import socket, sys, struct, json, os
path, out_path, ready = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o666)
out = open(out_path, 'a')
open(ready, 'w').close()
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    uid = None
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack('iII', data[:12])
    out.write(json.dumps({'uid': uid, 'msg': msg.decode('utf8', 'replace')}) + '\\n')
    out.flush()
`;

export interface CredentialsSyslog {
  socket: string;
  /** Every message so far, once a last one sent now has arrived (one socket, read in order). */
  messages(): Promise<{ uid: number | null; msg: string }[]>;
  close(): void;
}

export function credentialsSyslogAvailable(): boolean {
  return findExecutable('python3') !== undefined && findExecutable('logger') !== undefined;
}

export async function startCredentialsSyslog(dir: string): Promise<CredentialsSyslog> {
  const script = join(dir, 'listener.py');
  const socket = join(dir, 'log.sock');
  const out = join(dir, 'messages.jsonl');
  const ready = join(dir, 'ready');
  writeFileSync(script, LISTENER);
  const p: ChildProcess = spawn(findExecutable('python3')!, [script, socket, out, ready], { stdio: 'ignore' });
  for (let i = 0; i < 600 && !existsSync(ready); i++) await sleep(50);
  let n = 0;
  const read = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { uid: number | null; msg: string }) : []);
  return {
    socket,
    async messages() {
      const end = `credentials-syslog-end-${++n}`;
      execFileSync(findExecutable('logger')!, ['-u', socket, '-t', 'credentials-syslog', end]);
      for (let i = 0; i < 600 && !read().some((m) => m.msg.includes(end)); i++) await sleep(50);
      return read().filter((m) => !m.msg.includes('credentials-syslog-end-'));
    },
    close: () => void p.kill('SIGKILL'),
  };
}
