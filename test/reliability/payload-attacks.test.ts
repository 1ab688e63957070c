// A hostile payload, run by `dist/glidein run --spool` as a mapped account in setuid mode, tries
// to read the pilot's credentials (its store files, its /proc environ and memory), to signal the
// agent, to plant a job in the spool, and to leave processes behind (background, setsid, nohup,
// double fork). It fails at each: the agent lives on and exits by its own idle timeout, and no
// process of the account survives the job. Root only (setuid mode and a real account).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { EXE } from '../helpers/paths.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { registerPilot } from '../../refresh-service/index.ts';
import { startServiceProcess, sleep, type ServiceProcess } from './fixture.ts';

const ACCOUNT = 'glrelhostile';
let svc: ServiceProcess | undefined;
const dirs: string[] = [];
afterAll(async () => {
  if (IS_ROOT) {
    try {
      execFileSync('pkill', ['-KILL', '-u', ACCOUNT]);
    } catch {
      /* none left, as expected */
    }
    removeAccount(ACCOUNT);
  }
  await svc?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const processesOf = (uid: number): string[] => {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status)) out.push(`${name} ${readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      /* gone */
    }
  }
  return out;
};

describe('hostile payload', () => {
  it.runIf(IS_ROOT)('a payload fails to read the pilot credentials, to signal the agent, to plant a job, and to leave processes behind', async () => {
    const account = ensureAccount(ACCOUNT);
    svc = await startServiceProcess();
    const dir = mkdtempSync(join(tmpdir(), 'glidein-reliability-hostile-'));
    dirs.push(dir);
    chmodSync(dir, 0o711);
    const bundle = await registerPilot({ stateDir: svc.stateDir, config: svc.config, glideinId: 'hostile-1', entry: 'HOSTILE_CE', url: svc.base });
    const bundlePath = join(dir, 'bundle.json');
    writeFileSync(bundlePath, JSON.stringify(bundle), { mode: 0o600 });
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { mallory: ACCOUNT }, killGraceSeconds: 1 });
    const work = join(dir, 'work');
    mkdirSync(work);
    const outDir = join(dir, 'out');
    mkdirSync(outDir, { mode: 0o700 });
    chownSync(outDir, account.uid, account.gid);
    const spool = join(dir, 'spool');
    mkdirSync(spool, { mode: 0o755 });
    const script = [
      'agent=$PPID',
      // The wrapper execs the payload, so the agent is the parent or an ancestor: try every ancestor.
      'ancestors=""; p=$$; while [ "$p" -gt 1 ]; do p=$(awk \'/^PPid:/ {print $2}\' /proc/$p/status); [ "$p" -gt 1 ] && ancestors="$ancestors $p"; done',
      'echo "ancestors:$ancestors"',
      'res() { if "$@" >/dev/null 2>&1; then echo ok; else echo denied; fi; }',
      'c=$(dirname "$(dirname "$(dirname "$BEARER_TOKEN_FILE")")")',
      'echo "read-refresh-token:$(res cat "$c/pilot/refresh-token")"',
      'echo "read-dpop-key:$(res cat "$c/pilot/dpop-key")"',
      'echo "read-ccred:$(res cat "$c/idtokens/glidein-collector")"',
      'echo "find-any-pilot-file:$(res sh -c "find $c/pilot $c/idtokens -type f | grep -q .")"',
      'sig=denied; env=denied; mem=denied; for a in $ancestors; do kill -0 $a 2>/dev/null && sig=ok; kill -TERM $a 2>/dev/null && sig=ok; kill -STOP $a 2>/dev/null && sig=ok; cat /proc/$a/environ >/dev/null 2>&1 && env=ok; head -c1 /proc/$a/mem >/dev/null 2>&1 && mem=ok; done',
      'echo "signal-agent:$sig"; echo "read-agent-environ:$env"; echo "read-agent-mem:$mem"',
      `echo "plant-job:$(res sh -c 'echo {} > ${spool}/planted.json')"`,
      // Leftovers: background, setsid, nohup, and a double fork that re-parents to init.
      'sleep 3001 & setsid sleep 3002 & nohup sleep 3003 >/dev/null 2>&1 & (sh -c "sleep 3004 &" &)',
      'sleep 1; echo done',
    ].join('\n');
    writeFileSync(join(spool, 'hostile.json'), JSON.stringify({
      id: 'hostile', executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, 'out'), stderr: join(outDir, 'err'),
      limits: { wallclockSeconds: 60 }, identity: await site.identityToken('mallory', 600),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('mallory', 600) }],
    }));
    const agent = spawn(EXE, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '3', '--failure-delay', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    agent.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => agent.on('close', (c) => r(c)));
    expect(code, stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ reason: 'idle-timeout', jobs: { started: 1, completed: 1 } });
    const out = readFileSync(join(outDir, 'out'), 'utf8');
    const seen = Object.fromEntries(out.split('\n').filter((l) => /^[a-z-]+:(ok|denied)$/.test(l)).map((l) => l.split(':') as [string, string]));
    expect(out).toMatch(/^ancestors: \d+/m);
    expect(seen).toEqual({
      'read-refresh-token': 'denied', 'read-dpop-key': 'denied', 'read-ccred': 'denied', 'find-any-pilot-file': 'denied',
      'signal-agent': 'denied', 'read-agent-environ': 'denied', 'read-agent-mem': 'denied', 'plant-job': 'denied',
    });
    expect(out).toContain('done');
    expect(existsSync(join(spool, 'planted.json'))).toBe(false);
    await sleep(200);
    expect(processesOf(account.uid)).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);
});
