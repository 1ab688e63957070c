// Finding a job's processes from a fixture /proc tree: session, process group, descendants that
// left the session, and orphans of the account that carry the job's marker — never a process of
// the same account that belongs to another job (another pilot on a shared node), and never a
// process that only reuses a recorded pid (real processes for the signalling itself).
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, chownSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processIdentity, readProcTable, selectJobProcesses, signalJob } from '../../agent/sandbox/process-sweep.ts';
import { Limiter } from '../../agent/sandbox/limiter.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';

const proc = mkdtempSync(join(tmpdir(), 'glsbx-proc-'));
afterAll(() => rmSync(proc, { recursive: true, force: true }));

const MARK = 'a'.repeat(32);
const OTHER_MARK = 'b'.repeat(32);

function fake(pid: number, ppid: number, pgid: number, sid: number, uid: number, comm = 'sleep', mark?: string) {
  const d = join(proc, String(pid));
  mkdirSync(d);
  // Fields after comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime
  writeFileSync(join(d, 'stat'), `${pid} (${comm}) S ${ppid} ${pgid} ${sid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid}\n`);
  writeFileSync(join(d, 'environ'), ['PATH=/bin', ...(mark ? [`GLIDEIN_JOB_MARK=${mark}`] : [])].join('\0') + '\0');
  if (IS_ROOT) chownSync(d, uid, uid);
}

describe('process sweep', () => {
  fake(100, 1, 100, 100, 0, 'glidein');
  fake(200, 100, 200, 200, 5000, 'payload (main)');
  fake(201, 200, 200, 200, 5000);
  fake(202, 200, 202, 202, 5000, 'setsid child');
  fake(203, 202, 202, 202, 5000);
  fake(300, 1, 300, 300, 5000, 'orphan', MARK);
  fake(301, 1, 301, 301, 5000, 'other job of the same account', OTHER_MARK);
  fake(302, 1, 302, 302, 5000, 'unmarked process of the same account');
  fake(400, 1, 400, 400, 6000, 'other user', MARK);

  it('reads pid, ppid, pgid, session, start time and state (comm with spaces and parentheses)', () => {
    const t = readProcTable(proc);
    expect(t.find((p) => p.pid === 200)).toMatchObject({ ppid: 100, pgid: 200, sid: 200, start: 1200, state: 'S' });
  });

  it("the job's session and its descendants are selected, not the agent or other sessions", () => {
    const pids = selectJobProcesses(readProcTable(proc), { sessions: new Set([200]), mark: null, uid: null, exclude: new Set([100]) }, proc).map((p) => p.pid).sort();
    expect(pids).toEqual([200, 201, 202, 203]);
  });

  it.skipIf(!IS_ROOT)("a marker sweep also finds the job's orphans that left the session, and nothing of other jobs or accounts", () => {
    const pids = selectJobProcesses(readProcTable(proc), { sessions: new Set([200]), mark: MARK, uid: 5000, exclude: new Set([100]) }, proc).map((p) => p.pid).sort();
    expect(pids).toEqual([200, 201, 202, 203, 300]);
  });

  it('a recorded session whose leader pid now has another start time (a reused pid) selects nothing', () => {
    fake(500, 1, 500, 500, 5000, 'new owner of a reused pid');
    fake(501, 500, 500, 500, 5000, 'its child');
    const sel = (leaderStart: number) => ({ sessions: new Set([500]), leaderStart, mark: null, uid: null, exclude: new Set([100]) });
    expect(selectJobProcesses(readProcTable(proc), sel(1499), proc)).toEqual([]);
    expect(selectJobProcesses(readProcTable(proc), sel(1500), proc).map((p) => p.pid).sort()).toEqual([500, 501]);
  });

  it('a member of the recorded session born before its leader is not the job\'s', () => {
    fake(600, 1, 700, 700, 5000, 'older than the recorded leader');
    const pids = selectJobProcesses(readProcTable(proc), { sessions: new Set([700]), leaderStart: 1650, mark: null, uid: null, exclude: new Set() }, proc).map((p) => p.pid);
    expect(pids).toEqual([]);
  });
});

describe.skipIf(!IS_ROOT)("the helper's kill (`glidein wrapper kill` as the account, real account)", () => {
  const ACCOUNT = 'glsweepkill';
  afterAll(() => removeAccount(ACCOUNT));

  it('skips a session whose leader has another start time than the one the agent recorded', async () => {
    const user = ensureAccount(ACCOUNT);
    const p = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', uid: user.uid, gid: user.gid });
    const exited = new Promise((r) => p.once('exit', r));
    try {
      const pid = p.pid!;
      const start = processIdentity(pid)!.start;
      const kill = (leaderStart: number) =>
        spawnSync(NODE, [CLI_TS, 'wrapper', 'kill', '--signal', 'SIGKILL', '--session', String(pid), '--start', String(leaderStart)], { uid: user.uid, gid: user.gid, encoding: 'utf8', timeout: 60_000 });
      const wrong = kill(start + 1);
      expect(wrong.status, wrong.stderr).toBe(0);
      expect(processIdentity(pid)?.start).toBe(start);
      expect(kill(start).status).toBe(0);
      await exited;
    } finally {
      p.kill('SIGKILL');
    }
  }, 120_000);
});

describe('signalling a job (real processes)', () => {
  const alive = (pid: number): boolean => {
    const id = processIdentity(pid);
    return id !== null && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  };

  it('a recorded pid whose start time differs is not signalled; the same pid with its own start time is', async () => {
    const p = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => p.once('exit', r));
    try {
      const pid = p.pid!;
      const start = processIdentity(pid)!.start;
      const sel = (leaderStart: number) => ({ sessions: new Set([pid]), leaderStart, mark: null, uid: null, exclude: new Set([process.pid]) });
      expect(signalJob(sel(start - 1), 'SIGKILL')).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
      expect(alive(pid)).toBe(true);
      expect(signalJob(sel(start), 'SIGKILL')).toBe(1);
      await exited;
    } finally {
      p.kill('SIGKILL');
    }
  });
});

describe('helper concurrency limit', () => {
  it('never runs more than its limit at once, and runs everything', async () => {
    const l = new Limiter(3);
    let active = 0;
    let peak = 0;
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        l.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
          done.push(i);
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toHaveLength(20);
  });
});
