// `glidein audit` over records real jobs wrote (issue 25): real accounts, setuid jobs through
// `glidein exec`, then the site admin's questions through the real CLI: by account, uid, sub and
// job; "which identity owned pid P at time T" for a finished job, and for a child process of a
// job still running (not the session leader: found by its cgroup, marker or session).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { makeFixture, type SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { parseAuditTime } from '../../agent/audit/audit-time.ts';
import type { AuditRun } from '../../agent/audit/audit-query.ts';

let fx: SandboxFixture;
let file: string;
let policy: string;

async function exec(id: string, sub: string, args: string[] = []) {
  const job = fx.job({ id, executable: '/bin/sh', args: ['-c', 'exit 0', ...args], identity: await fx.token({ sub }) });
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json'], { source: true });
  expect(r.code, r.stderr).toBe(0);
}

async function audit(...args: string[]): Promise<{ code: number | null; runs: AuditRun[]; stdout: string; stderr: string }> {
  const r = await runCli(['audit', '--file', file, '--format', 'json', ...args], { source: true });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, runs: r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as { runs: AuditRun[] }).runs : [] };
}

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(path); i++) await sleep(50);
}

describe.skipIf(!IS_ROOT)('glidein audit', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glaudqalice', 'glaudqbob']);
    file = join(fx.dir, 'audit', 'audit.log');
    policy = fx.policy({ identity: 'setuid', audit: { syslog: false, file } });
    await exec('q-alice-1', 'alice');
    await exec('q-bob-1', 'bob');
    await exec('q-alice-2', 'alice');
    await runCli(['exec', '--job', fx.job({ id: 'q-mallory', executable: '/bin/true', identity: await fx.token({ sub: 'mallory' }) }), '--policy', policy], { source: true });
  });
  afterAll(() => fx?.cleanup());

  it('finds the runs of an account, a uid, a sub and a job, each a start and its end joined', async () => {
    const byAccount = await audit('--account', fx.users.a.name);
    expect(byAccount.code).toBe(0);
    expect(byAccount.runs.map((r) => r.job)).toEqual(['q-alice-1', 'q-alice-2']);
    expect(byAccount.runs[0]).toMatchObject({ sub: 'alice', uid: fx.users.a.uid, state: 'completed', why: 'completed' });
    expect(Date.parse(byAccount.runs[0]!.startedAt!)).toBeLessThanOrEqual(Date.parse(byAccount.runs[0]!.endedAt!));
    expect((await audit('--uid', String(fx.users.b.uid))).runs.map((r) => r.job)).toEqual(['q-bob-1']);
    expect((await audit('--sub', 'mallory')).runs).toMatchObject([{ job: 'q-mallory', state: 'held', startedAt: null, account: null }]);
    expect((await audit('--job', 'q-alice-2', '--sub', 'bob')).code).toBe(1);
  });

  it('says which identity held a pid at a time, and not before its job started', async () => {
    const [run] = (await audit('--job', 'q-bob-1')).runs;
    const during = new Date(Date.parse(run!.startedAt!) + 1).toISOString();
    const before = new Date(Date.parse(run!.startedAt!) - 60_000).toISOString();
    expect((await audit('--pid', String(run!.pid), '--at', during)).runs).toMatchObject([{ job: 'q-bob-1', sub: 'bob', account: fx.users.b.name }]);
    expect((await audit('--pid', String(run!.pid), '--at', before)).code).toBe(1);
    const since = (await audit('--since', run!.endedAt!)).runs.map((r) => r.job);
    expect(since).toContain('q-bob-1');
    expect(since).not.toContain('q-alice-1');
  });

  it("resolves a running job's child process (not its session leader) to the job's identity", async () => {
    const w = fx.workdir(fx.users.a);
    const childFile = join(w, 'child');
    const job = fx.job({ id: 'q-live', executable: '/bin/sh', args: ['-c', `sleep 60 & echo $! > ${childFile}; wait`], cwd: w, identity: await fx.token({ sub: 'alice' }) });
    const agent = spawn(NODE, [CLI_TS, 'exec', '--job', job, '--policy', policy, '--log-format', 'json'], { stdio: 'ignore' });
    const exited = new Promise((r) => agent.on('close', r));
    try {
      await waitForFile(childFile);
      const child = Number(readFileSync(childFile, 'utf8'));
      const r = await audit('--pid', String(child));
      expect(r.runs).toMatchObject([{ job: 'q-live', sub: 'alice', account: fx.users.a.name, endedAt: null }]);
      expect(r.runs[0]!.pid).not.toBe(child);
      // The table answers the same question for a person.
      const t = await runCli(['audit', '--file', file, '--pid', String(child)], { source: true });
      expect(t.stdout).toMatch(/q-live .* alice https:\/\/issuer\.example\.org .*running/);
    } finally {
      agent.kill('SIGTERM');
      await exited;
    }
    expect((await audit('--job', 'q-live')).runs).toMatchObject([{ why: 'drain', state: 'killed' }]);
  }, 90_000);

  it('prints no token material', async () => {
    const r = await runCli(['audit', '--file', file, '--format', 'json'], { source: true });
    expect(r.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\./);
  });

  it('a bad time or a missing file is a usage error naming it', async () => {
    const bad = await runCli(['audit', '--file', file, '--at', 'noonish'], { source: true });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--at 'noonish' is not a time");
    const missing = await runCli(['audit', '--file', join(fx.dir, 'nope.log')], { source: true });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the audit file');
  });
});

describe('audit times', () => {
  const now = new Date(2026, 11, 7, 16, 0, 0);
  it.each([
    ['2026-12-07T14:02:00Z', Date.UTC(2026, 11, 7, 14, 2, 0)],
    ['@1796653965', 1796653965000],
    ['14:02', new Date(2026, 11, 7, 14, 2, 0).getTime()],
    ['14:02:30', new Date(2026, 11, 7, 14, 2, 30).getTime()],
  ])('%s', (text, ms) => {
    expect(parseAuditTime('at', text, now)).toBe(ms);
  });
  it.each(['25:00', 'yesterday', '2026-13-45'])('%s is refused', (text) => {
    expect(() => parseAuditTime('at', text, now)).toThrow(/is not a time/);
  });
});
