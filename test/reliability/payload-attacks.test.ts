// A hostile payload, run by `dist/glidein run --spool` as a mapped account in setuid mode, tries
// to read the pilot's credentials (its store files, its /proc environ and memory), to signal the
// agent, to plant a job in the spool, to use a descriptor the agent's parent leaked (fd 251), and
// to leave processes behind (background, setsid, nohup, double fork); a second job points its
// stdio at root files (/etc/shadow, a root-owned "crontab"). It fails at each: the agent lives on
// and exits by its own idle timeout, and no process of the account survives the job. Then, in
// helper mode, a hostile payload races the next job's wrapper socket (issue 11, item 2) and gets
// nothing. Root only (setuid mode and real accounts).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { EXE, NODE } from '../helpers/paths.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { registerPilot } from '../../refresh-service/index.ts';
import { ownedDir, startServiceProcess, traversableTempDir, sleep, type ServiceProcess } from './fixture.ts';
import { HELPER } from '../sandbox/sandbox-fixture.ts';

const ACCOUNT = 'glrelhostile';
const VICTIM = 'glrelvictim';
const LEAKED_FD = 251;
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
    removeAccount(VICTIM);
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
    const dir = traversableTempDir('glidein-reliability-hostile-', dirs);
    const bundle = await registerPilot({ stateDir: svc.stateDir, config: svc.config, glideinId: 'hostile-1', entry: 'HOSTILE_CE', url: svc.base });
    const bundlePath = join(dir, 'bundle.json');
    writeFileSync(bundlePath, JSON.stringify(bundle), { mode: 0o600 });
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { mallory: ACCOUNT }, killGraceSeconds: 1 });
    const work = join(dir, 'work');
    mkdirSync(work);
    const outDir = ownedDir(dir, account, 'out');
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
      `echo "inherited-fd:$(res sh -c 'ls /proc/self/fd | grep -qx ${LEAKED_FD}')"`,
      // Leftovers: background, setsid, nohup, and a double fork that re-parents to init.
      'sleep 3001 & setsid sleep 3002 & nohup sleep 3003 >/dev/null 2>&1 & (sh -c "sleep 3004 &" &)',
      'sleep 1; echo done',
    ].join('\n');
    writeFileSync(join(spool, 'hostile.json'), JSON.stringify({
      id: 'hostile', executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, 'out'), stderr: join(outDir, 'err'),
      limits: { wallclockSeconds: 60 }, identity: await site.identityToken('mallory', 600),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('mallory', 600) }],
    }));
    // Two more jobs aim their stdio at root files: held, the files untouched.
    const crontab = join(dir, 'crontab');
    writeFileSync(crontab, '# root crontab\n', { mode: 0o644 });
    writeFileSync(join(spool, 'rootfile.json'), JSON.stringify({
      id: 'rootfile', executable: '/bin/echo', args: ['* * * * * root /tmp/evil'], stdout: crontab, cwd: outDir, identity: await site.identityToken('mallory', 600),
    }));
    writeFileSync(join(spool, 'shadow.json'), JSON.stringify({
      id: 'shadow', executable: '/bin/cat', stdin: '/etc/shadow', stdout: join(outDir, 'shadow'), cwd: outDir, identity: await site.identityToken('mallory', 600),
    }));
    // The agent's parent leaks a descriptor on a root-only file (no close-on-exec) at fd 251.
    const leaked = join(dir, 'leaked-secret');
    writeFileSync(leaked, 'leaked-secret\n', { mode: 0o600 });
    const leakedFd = openSync(leaked, 'r');
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
    while (stdio.length < LEAKED_FD) stdio.push('ignore');
    stdio.push(leakedFd);
    const agent = spawn(EXE, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '3', '--failure-delay', '0'], { stdio });
    closeSync(leakedFd);
    let stdout = '';
    let stderr = '';
    agent.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => agent.on('close', (c) => r(c)));
    expect(code, stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ reason: 'idle-timeout', jobs: { started: 3, completed: 1, held: 2 } });
    for (const name of ['rootfile', 'shadow']) {
      expect(JSON.parse(readFileSync(join(spool, `${name}.result.json`), 'utf8'))).toMatchObject({ state: 'held', launchError: { stage: 'stdio', code: 'EACCES' } });
    }
    expect(readFileSync(crontab, 'utf8')).toBe('# root crontab\n');
    expect(existsSync(join(outDir, 'shadow')) ? readFileSync(join(outDir, 'shadow'), 'utf8') : '').toBe('');
    const out = readFileSync(join(outDir, 'out'), 'utf8');
    const seen = Object.fromEntries(out.split('\n').filter((l) => /^[a-z-]+:(ok|denied)$/.test(l)).map((l) => l.split(':') as [string, string]));
    expect(out).toMatch(/^ancestors: \d+/m);
    expect(seen).toEqual({
      'read-refresh-token': 'denied', 'read-dpop-key': 'denied', 'read-ccred': 'denied', 'find-any-pilot-file': 'denied',
      'signal-agent': 'denied', 'read-agent-environ': 'denied', 'read-agent-mem': 'denied', 'plant-job': 'denied', 'inherited-fd': 'denied',
    });
    expect(out).toContain('done');
    expect(existsSync(join(spool, 'planted.json'))).toBe(false);
    await sleep(200);
    expect(processesOf(account.uid)).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  }, 90_000);

  it.runIf(IS_ROOT)("in helper mode a hostile payload that races the next job's wrapper socket gets nothing, and that job runs as its own account", async (ctx) => {
    if (HELPER === null) return ctx.skip();
    const mallory = ensureAccount(ACCOUNT);
    const victim = ensureAccount(VICTIM);
    const dir = traversableTempDir('glidein-reliability-race-', dirs);
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { mallory: ACCOUNT, victim: VICTIM }, killGraceSeconds: 1 });
    // The same site in helper mode, with a helper that takes 2 s before switching: a wide window.
    const helperPolicy = join(siteDir, 'helper-policy.json');
    const policy = JSON.parse(readFileSync(site.policyPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(helperPolicy, JSON.stringify({ ...policy, identity: 'helper', helper: ['/bin/sh', '-c', 'sleep 2; exec "$@"', 'glslowhelper', ...HELPER] }));
    const hostileOut = ownedDir(dir, mallory, 'hostile');
    const victimOut = ownedDir(dir, victim, 'victim');
    const victimTmp = join(dir, 'victim-tmp');
    mkdirSync(victimTmp, { mode: 0o711 });
    // Every wrapper socket that shows up in /proc/net/unix for 15 s: connect, send a fake secret, listen.
    const attacker = `const net = require('node:net'), fs = require('node:fs'); const tried = {}; const end = Date.now() + 15000;
      const scan = () => { for (const l of fs.readFileSync('/proc/net/unix', 'utf8').split('\\n')) { const p = l.trim().split(/\\s+/).at(-1);
        if (!/\\/glidein-w-[^/]+\\/w-[0-9a-f]+\\.sock$/.test(p) || p in tried) continue; tried[p] = { received: 0 }; const s = net.connect(p);
        s.on('data', (d) => (tried[p].received += d.length)); s.on('error', (e) => (tried[p].error = e.code));
        s.on('connect', () => { tried[p].connected = true; s.write('f'.repeat(64) + '\\n'); setTimeout(() => s.destroy(), 1500); }); }
        if (Date.now() < end) setTimeout(scan, 5); else setTimeout(() => console.log(JSON.stringify(tried)), 1600); };
      console.log('polling'); scan();`;
    const hostileJob = join(dir, 'hostile.json');
    writeFileSync(hostileJob, JSON.stringify({ id: 'racer', executable: NODE, args: ['-e', attacker], cwd: hostileOut, stdout: join(hostileOut, 'out'), stderr: join(hostileOut, 'err'), identity: await site.identityToken('mallory', 600) }));
    const victimJob = join(dir, 'victim.json');
    writeFileSync(victimJob, JSON.stringify({
      id: 'victim', executable: '/usr/bin/id', args: ['-u'], cwd: victimOut, stdout: join(victimOut, 'out'), identity: await site.identityToken('victim', 600),
      credentials: [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('victim', 600) }],
    }));
    const run = (job: string, policyPath: string, env: NodeJS.ProcessEnv = process.env) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const p = spawn(EXE, ['exec', '--job', job, '--policy', policyPath], { stdio: ['ignore', 'pipe', 'ignore'], env });
        let stdout = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.on('close', (code) => resolve({ code, stdout }));
      });
    const hostile = run(hostileJob, site.policyPath);
    const outFile = join(hostileOut, 'out');
    for (let i = 0; i < 300 && !(existsSync(outFile) && readFileSync(outFile, 'utf8').includes('polling')); i++) await sleep(50);
    const v = await run(victimJob, helperPolicy, { ...process.env, TMPDIR: victimTmp });
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ state: 'completed', uid: victim.uid });
    expect(readFileSync(join(victimOut, 'out'), 'utf8').trim()).toBe(String(victim.uid));
    expect((await hostile).code).toBe(0);
    const tried = JSON.parse(readFileSync(outFile, 'utf8').split('\n').filter(Boolean).at(-1)!) as Record<string, { received: number; error?: string }>;
    const aimed = Object.keys(tried).filter((p) => p.startsWith(`${victimTmp}/`));
    expect(aimed.length, JSON.stringify(tried)).toBeGreaterThan(0);
    for (const p of Object.keys(tried)) expect(tried[p]!.received, p).toBe(0);
  }, 90_000);
});
