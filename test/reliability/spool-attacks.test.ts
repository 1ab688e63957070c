// A hostile payload that can write the spool (issue 11, item 8): run by `dist/glidein run --spool`
// as a mapped account in setuid mode, in a spool its account owns, it plants a FIFO and symlinks
// to root-only files as spec files, then swaps names between a valid spec and a FIFO, or a symlink
// to a root-only file holding a valid spec (the check-then-read race; the old lstat-then-read lost
// it, but rarely on a plain spool path: test/pilot/spool.test.ts widens the window with a
// slow-to-resolve path and fails on the old code every time; here the path is plain, as a site's
// is). Meanwhile the pilot refreshes its credentials (12 s lifetime) and runs honest jobs of
// another account. The agent never blocks
// (every name is answered, the honest jobs complete, it exits by its idle timeout after
// refreshing), and no byte of the root-only file appears in a result or the agent's output.
// Root only (setuid mode and real accounts).
//
// This test found a denial of service: the spool scanned its directory once per watch event, so a
// writer renaming files as fast as it can kept the agent's event loop busy; refreshes and job ends
// waited 120 s, the C-CRED expired and the pilot exited 1 (4 runs of 4). Watch events now schedule
// at most one scan per 50 ms (agent/pilot/spool.ts); since then 3 runs of 3 passed.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { EXE, NODE, ROOT } from '../helpers/paths.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { createPoolKeyFile, loadServiceConfig, registerPilot, startRefreshService, type RunningService } from '../../refresh-service/index.ts';
import { createLogger } from '../../shared/log.ts';
import { freePort, ownedDir, sleep, traversableTempDir } from './fixture.ts';

const ACCOUNT = 'glrelspool';
const HONEST = 'glrelhonest';
const LIFETIME_S = 12;
const RACES = 30;
const RACER = join(ROOT, 'test', 'fixtures', 'pilot', 'spool-racer.mjs');
const HONEST_JOBS = 4;
let svc: RunningService | undefined;
const dirs: string[] = [];
afterAll(async () => {
  if (IS_ROOT) {
    removeAccount(ACCOUNT);
    removeAccount(HONEST);
  }
  await svc?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * The hostile job, from inside the spool: plant a FIFO and symlinks to root files as specs, then
 * run the spool racer (test/fixtures/pilot/spool-racer.mjs) as the account: RACES names each
 * swapped between a valid spec and a FIFO, then as many with a symlink to the root-only file.
 */
const hostileScript = (secret: string) => [
  `secret=${secret}`,
  'mkfifo fifo.json .racer-fifo; ln -s "$secret" link.json; ln -s /etc/shadow shadow.json',
  'echo planted',
  `echo "fifo-race:$("${NODE}" "${RACER}" . fifo ${RACES})"`,
  `echo "symlink-race:$("${NODE}" "${RACER}" . symlink ${RACES} "$secret")"`,
].join('\n');

describe('hostile spool writer', () => {
  it.runIf(IS_ROOT)('a payload planting FIFOs and symlinks to a root file as specs never blocks the pilot nor reveals the file, while it refreshes and runs honest jobs', async () => {
    const mallory = ensureAccount(ACCOUNT);
    const honest = ensureAccount(HONEST);
    const dir = traversableTempDir('glidein-reliability-spool-', dirs);
    const keyFile = join(dir, 'POOL');
    await createPoolKeyFile(keyFile);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const base = await loadServiceConfig(undefined, { trustDomain: 'spool-attacks.test', poolSigningKeyFile: keyFile, publicUrl: url });
    const config = { ...base, idtokenLifetime: LIFETIME_S, scitokenLifetime: LIFETIME_S };
    const stateDir = join(dir, 'state');
    let refreshes = 0;
    const log = createLogger({ format: 'json', level: 'info', sink: { write: (l: string) => {
      if (/"path":"\/v1\/refresh"/.test(l) && /"status":200/.test(l)) refreshes++;
      return true;
    } } });
    svc = await startRefreshService({ stateDir, config, listen: `127.0.0.1:${port}`, log });
    const bundlePath = join(dir, 'bundle.json');
    writeFileSync(bundlePath, JSON.stringify(await registerPilot({ stateDir, config, glideinId: 'spool-1', entry: 'SPOOL_CE', url, lifetime: 3600 })), { mode: 0o600 });
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { mallory: ACCOUNT, honest: HONEST }, killGraceSeconds: 1 });
    // The root-only file: a valid spec whose id is the secret, so a read of it would show as a job.
    const secretDir = join(dir, 'secret');
    mkdirSync(secretDir, { mode: 0o700 });
    const SECRET = `SECRET${process.pid}x${Date.now()}`;
    const secret = join(secretDir, 'spec.json');
    writeFileSync(secret, JSON.stringify({ id: SECRET, executable: '/bin/true' }), { mode: 0o600 });
    const hostileOut = ownedDir(dir, mallory, 'hostile');
    const honestOut = ownedDir(dir, honest, 'honest');
    const spool = join(dir, 'spool');
    mkdirSync(spool, { mode: 0o755 });
    chownSync(spool, mallory.uid, mallory.gid);
    writeFileSync(join(spool, 'hostile.json'), JSON.stringify({
      id: 'hostile', executable: '/bin/sh', args: ['-c', hostileScript(secret)], cwd: spool, stdout: join(hostileOut, 'out'), stderr: join(hostileOut, 'err'),
      limits: { wallclockSeconds: 150 }, identity: await site.identityToken('mallory', 600),
    }));
    const work = join(dir, 'work');
    mkdirSync(work);
    const agent = spawn(EXE, ['--log-format', 'json', 'run', '--bundle', bundlePath, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '3', '--failure-delay', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    agent.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => agent.on('close', (c) => r(c)));
    const hostileOutFile = join(hostileOut, 'out');
    for (let i = 0; i < 1200 && !(existsSync(hostileOutFile) && readFileSync(hostileOutFile, 'utf8').includes('planted')); i++) await sleep(50);
    // Honest jobs of another account arrive during the race (written aside, renamed in whole).
    for (let k = 0; k < HONEST_JOBS; k++) {
      writeFileSync(join(spool, `.h${k}`), JSON.stringify({ id: `honest${k}`, executable: '/usr/bin/id', args: ['-u'], cwd: honestOut, stdout: join(honestOut, `out${k}`), identity: await site.identityToken('honest', 600) }));
      renameSync(join(spool, `.h${k}`), join(spool, `honest${k}.json`));
      await sleep(2000);
    }
    const code = await exited;
    expect(code, stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { reason: string; refreshes: number };
    expect(summary.reason).toBe('idle-timeout');
    // The binding refresh and at least one more during the attack.
    expect(summary.refreshes).toBeGreaterThanOrEqual(2);
    expect(refreshes).toBeGreaterThanOrEqual(2);
    // The racer prints DONE when the agent answered every name, BLOCKED when it hung on a FIFO.
    const out = readFileSync(hostileOutFile, 'utf8');
    expect(out).toContain('fifo-race:DONE');
    expect(out).toContain('symlink-race:DONE');
    const result = (name: string) => JSON.parse(readFileSync(join(spool, `${name}.result.json`), 'utf8')) as Record<string, unknown>;
    expect(result('hostile')).toMatchObject({ state: 'completed' });
    expect(result('fifo')).toMatchObject({ state: 'held', reason: expect.stringContaining('is a FIFO') });
    expect(result('link')).toMatchObject({ state: 'held', reason: expect.stringContaining('is a symbolic link') });
    expect(result('shadow')).toMatchObject({ state: 'held', reason: expect.stringContaining('is a symbolic link') });
    // Every raced name was answered: held (no identity, a FIFO or a symlink), never run.
    for (let i = 0; i < RACES; i++) expect(result(`r${i}`), `r${i}`).toMatchObject({ state: 'held' });
    for (let k = 0; k < HONEST_JOBS; k++) {
      expect(result(`honest${k}`)).toMatchObject({ state: 'completed', uid: honest.uid });
      expect(readFileSync(join(honestOut, `out${k}`), 'utf8').trim()).toBe(String(honest.uid));
    }
    const written = readdirSync(spool).filter((f) => f.endsWith('.result.json')).map((f) => readFileSync(join(spool, f), 'utf8'));
    expect([...written, stdout, stderr].join('\n')).not.toContain(SECRET);
    expect(readFileSync(secret, 'utf8')).toBe(JSON.stringify({ id: SECRET, executable: '/bin/true' }));
    expect(readdirSync(work)).toEqual([]);
  }, 240_000);
});
