// contrib/glidein-refresh.service denies every system call outside @system-service and those of
// @privileged and @resources (SystemCallFilter), and sockets other than AF_INET/AF_INET6. Here no
// systemd runs the unit, so the test shows the service still works under it another way: it runs
// `serve` under strace through a real refresh, a status report, /healthz, /metrics, the JWKS, a
// SIGHUP reload and a SIGTERM drain, and checks that every system call it made is one the unit
// allows, that it never asked for a unix socket, and that it opened nothing in /proc but process
// directories (ProcSubset=pid) (issue 27 section 2).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateDpopKey } from '../../shared/dpop.ts';
import { refresh } from '../refresh-service/fixture.ts';
import { report } from '../refresh-service/operator/pilot-driver.ts';
import { CLI_TS, EXE, NODE, ROOT } from '../helpers/paths.ts';
import { runCli } from '../helpers/run-cli.ts';
import { IS_ROOT, ensureAccount, removeAccount, type TestAccount } from '../helpers/accounts.ts';
import { skipWithout, skipWithoutTool } from '../helpers/system-tools.ts';

const UNIT = join(ROOT, 'contrib', 'glidein-refresh.service');
// The built executable (what the unit runs) when there is one (npm test builds it), else the source.
const GLIDEIN = existsSync(EXE) ? [EXE] : [NODE, CLI_TS];
const dir = mkdtempSync(join(tmpdir(), 'glidein-unit-sys-'));
// As the unit does (User=glidein-refresh), serve runs as an ordinary account: as root, SQLite
// would also fchown its -wal and -shm files to the database's owner (only when euid is 0).
const ACCOUNT = 'glunitsys';
let account: TestAccount | undefined;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (account) removeAccount(ACCOUNT);
});

/** The system calls of a systemd group, nested groups expanded. */
function syscallGroup(name: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(name)) return out;
  seen.add(name);
  const lines = execFileSync('systemd-analyze', ['syscall-filter', name], { encoding: 'utf8' }).split('\n').slice(1).map((l) => l.trim());
  for (const l of lines) {
    if (l === '' || l.startsWith('#')) continue;
    if (l.startsWith('@')) for (const s of syscallGroup(l, seen)) out.add(s);
    else out.add(l);
  }
  return out;
}

/** What the unit's SystemCallFilter lines allow: the allow list minus every ~deny list. */
function unitAllows(): Set<string> {
  const filters = readFileSync(UNIT, 'utf8').split('\n').filter((l) => l.startsWith('SystemCallFilter=')).map((l) => l.slice('SystemCallFilter='.length));
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const f of filters) {
    const deny = f.startsWith('~');
    for (const item of (deny ? f.slice(1) : f).split(/\s+/).filter(Boolean)) {
      for (const s of item.startsWith('@') ? syscallGroup(item) : [item]) (deny ? denied : allowed).add(s);
    }
  }
  for (const s of denied) allowed.delete(s);
  return allowed;
}

function straceWorks(): boolean {
  try {
    execFileSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = skipWithoutTool('systemd-analyze', 'apt-get install systemd') || skipWithoutTool('strace', 'apt-get install strace') || skipWithout('tracing with strace (ptrace)', straceWorks(), 'allow ptrace of child processes');

describe('contrib/glidein-refresh.service system call filter', () => {
  it.skipIf(skip)('allows every system call serve makes through refresh, report, reload and drain', async () => {
    const config = join(dir, 'rs.json');
    writeFileSync(config, JSON.stringify({ poolSigningKeyFile: join(dir, 'POOL'), trustDomain: 'unit.example' }));
    expect((await runCli(['refresh-service', 'init-key', '--config', config], { source: true })).code).toBe(0);
    const as = IS_ROOT ? (account = ensureAccount(ACCOUNT)) : undefined;
    if (as) {
      chmodSync(dir, 0o755);
      chownSync(dir, as.uid, as.gid);
      chownSync(join(dir, 'POOL'), as.uid, as.gid);
    }
    const state = join(dir, 'state');
    const trace = join(dir, 'trace.txt');
    const serve = spawn('strace', ['-f', '-qq', '-o', trace, ...GLIDEIN, '--log-format', 'json', 'refresh-service', 'serve', '--init', '--state', state, '--config', config, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'], ...(as ? { uid: as.uid, gid: as.gid } : {}),
    });
    const exited = once(serve, 'exit');
    let pid = 0;
    try {
      const stderr = createInterface({ input: serve.stderr });
      const logs: string[] = [];
      stderr.on('line', (l) => logs.push(l));
      let listening = false;
      const first = await Promise.race([
        once(createInterface({ input: serve.stdout }), 'line').then(([l]) => ((listening = true), l as string)),
        exited.then(() => {
          if (!listening) throw new Error(`serve exited before listening: ${logs.join('\n')}`);
          return '';
        }),
      ]);
      const url = (JSON.parse(first) as { url: string }).url;
      // Signals go to serve itself, strace's child (strace does not forward them).
      pid = Number(readFileSync(`/proc/${serve.pid}/task/${serve.pid}/children`, 'utf8').trim().split(' ')[0]);

      // register as serve's own account (the key file is its own), untraced.
      const bundle = execFileSync(GLIDEIN[0]!, [...GLIDEIN.slice(1), 'refresh-service', 'register', '--state', state, '--config', config, '--glidein-id', 'unit-1', '--entry', 'CE_A', '--url', url], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], ...(as ? { uid: as.uid, gid: as.gid } : {}),
      });
      const key = await generateDpopKey();
      const answer = await refresh(url, (JSON.parse(bundle) as { refresh_token: string }).refresh_token, key);
      expect(answer.status).toBe(200);
      expect((await report(url, { id: 'unit-1', key, token: answer.body['refresh_token'] as string }, { state: 'running' })).status).toBe(200);
      for (const path of ['/healthz', '/metrics', '/.well-known/jwks.json']) expect((await fetch(url + path)).status, path).toBe(200);
      const reloaded = new Promise<void>((resolve) => stderr.on('line', (l) => l.includes('config reloaded') && resolve()));
      process.kill(pid, 'SIGHUP');
      await reloaded;
      process.kill(pid, 'SIGTERM');
      const [code] = (await exited) as [number | null]; // strace exits with its tracee's status
      expect(code, logs.join('\n')).toBe(0);
    } finally {
      // A failure above must not leave serve running (strace does not pass signals on).
      if (serve.exitCode === null && serve.signalCode === null) {
        if (pid > 0) process.kill(pid, 'SIGKILL');
        serve.kill('SIGKILL');
        await exited;
      }
    }

    const text = readFileSync(trace, 'utf8');
    const used = new Set([...text.matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(20);
    const allowed = unitAllows();
    expect([...used].filter((s) => !allowed.has(s)).sort()).toEqual([]);
    expect(text.match(/^\d+\s+socket(pair)?\(AF_(UNIX|LOCAL).*$/gm) ?? []).toEqual([]);
    // ProcSubset=pid: only the process directories of /proc are there. /proc/meminfo is read by
    // Node's start-up (NewIsolate → libuv uv_get_total_memory), which falls back to sysinfo(2)
    // when it cannot (checked: node with /proc/meminfo unreadable starts, os.totalmem() the same).
    const procOpened = [...text.matchAll(/^\d+\s+open(?:at)?\((?:AT_FDCWD, )?"(\/proc\/[^"]*)".*= \d+$/gm)].map((m) => m[1]!);
    expect(procOpened.filter((p) => p !== '/proc/meminfo' && !/^\/proc\/(self|thread-self|\d+)(\/|$)/.test(p))).toEqual([]);
  }, 120_000);
});
