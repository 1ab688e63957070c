// The pilot's GPU bookkeeping (issue 23): the pool's rules as a table of small cases, then the
// real launcher (parseJobSpec + startJob, real processes) with 8 jobs on 4 GPUs: every job sees
// only its own devices, no device is given to two running jobs at once (read from the order of
// the jobs' own log lines, not from times), and every device is back after kills and crashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GpuPool } from '../../agent/pilot/gpu-pool.ts';
import { makeSandboxLaunch } from '../../agent/pilot/sandbox-launch.ts';
import type { LaunchedJob } from '../../agent/pilot/spool.ts';
import { parsePolicy } from '../../agent/sandbox/index.ts';
import { CredStore } from '../../agent/store/index.ts';
import { silentLogger } from '../../shared/log.ts';

const UUIDS = ['GPU-11111111-aaaa-4000-8000-000000000001', 'GPU-22222222-bbbb-4000-8000-000000000002', 'GPU-33333333-cccc-4000-8000-000000000003', 'GPU-44444444-dddd-4000-8000-000000000004'];

describe('GpuPool', () => {
  it('grants distinct devices, refuses more than it has, and takes each back once', async () => {
    const pool = new GpuPool(UUIDS);
    const a = await pool.acquire(3);
    expect(a.kind).toBe('granted');
    if (a.kind !== 'granted') return;
    expect(a.lease.devices).toEqual(UUIDS.slice(0, 3));
    expect(await pool.acquire(5)).toEqual({ kind: 'too-many', have: 4 });
    const b = await pool.acquire(1);
    expect(b.kind === 'granted' && b.lease.devices).toEqual([UUIDS[3]]);
    expect(pool.free).toBe(0);
    a.lease.release();
    a.lease.release(); // a second release must not free devices another job now holds
    expect(pool.free).toBe(3);
    const c = await pool.acquire(3);
    expect(c.kind === 'granted' && c.lease.devices).toEqual(UUIDS.slice(0, 3));
    expect(pool.free).toBe(0);
    expect(pool.inUse()).toEqual(UUIDS);
  });

  it('serves waiters first come, first served: a small request waits behind a large one', async () => {
    const pool = new GpuPool(UUIDS);
    const first = await pool.acquire(3);
    const order: string[] = [];
    const big = pool.acquire(4).then((r) => (order.push('big'), r));
    const small = pool.acquire(1).then((r) => (order.push('small'), r));
    await sleep(0);
    expect(order).toEqual([]); // one device is free, but the 1-GPU request is behind the 4-GPU one
    if (first.kind === 'granted') first.lease.release();
    const b = await big;
    expect(order).toEqual(['big']);
    if (b.kind === 'granted') b.lease.release();
    expect((await small).kind).toBe('granted');
    expect(order).toEqual(['big', 'small']);
  });

  it('an abort while waiting gives up the place in line and lets the next request through', async () => {
    const pool = new GpuPool(UUIDS.slice(0, 2));
    const held = await pool.acquire(1);
    const ac = new AbortController();
    const big = pool.acquire(2, ac.signal);
    const small = pool.acquire(1);
    ac.abort();
    expect(await big).toEqual({ kind: 'aborted' });
    expect((await small).kind).toBe('granted');
    expect(pool.free).toBe(0);
    if (held.kind === 'granted') held.lease.release();
    expect(pool.free).toBe(1);
  });

  it('a pool with no devices grants zero and refuses one', async () => {
    const pool = new GpuPool([]);
    expect((await pool.acquire(0)).kind).toBe('granted');
    expect(await pool.acquire(1)).toEqual({ kind: 'too-many', have: 0 });
  });
});

/** A launch that was taken (the launcher returns null only for a job given up untaken). */
async function taken(j: LaunchedJob | null | Promise<LaunchedJob | null>): Promise<LaunchedJob> {
  const job = await j;
  if (!job) throw new Error('the job was not taken');
  return job;
}

/** A fresh work dir for a credential store. */
function workdir(dir: string, name: string): string {
  const p = join(dir, name);
  mkdirSync(p, { mode: 0o700 });
  return p;
}

describe('GPUs through the real launcher', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glgpu-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('8 jobs on 4 GPUs: each sees only its own, none is given twice at once, all come back after kills and crashes', async () => {
    const pool = new GpuPool(UUIDS);
    const store = await CredStore.open(workdir(dir, 'work'));
    const log = join(dir, 'events.log');
    const drain = new AbortController();
    const launch = makeSandboxLaunch(parsePolicy({ killGraceSeconds: 1 }))({ store, log: silentLogger, signal: drain.signal, workdir: dir, env: process.env, gpus: pool });
    // Each job logs start and end lines with its devices (O_APPEND: whole lines, in the order written).
    const body = (end: string) => `echo "start $JOB $CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES" >> ${log}; ${end}`;
    const kinds: [string, number, string][] = [
      ['ok1', 1, body(`sleep 0.3; echo "end $JOB" >> ${log}`)],
      ['two', 2, body(`sleep 0.3; echo "end $JOB" >> ${log}`)],
      ['crash-segv', 1, body(`echo "end $JOB" >> ${log}; kill -SEGV $$`)],
      ['fail', 1, body(`echo "end $JOB" >> ${log}; exit 7`)],
      ['killed', 1, body(`touch ${dir}/killed.started; echo "end $JOB" >> ${log}; exec sleep 60`)],
      ['orphan', 1, body(`echo "end $JOB" >> ${log}; (sleep 60 &) ; exit 0`)],
      ['ok3', 3, body(`sleep 0.2; echo "end $JOB" >> ${log}`)],
      ['asks-cuda', 1, body(`echo "end $JOB" >> ${log}`)],
    ];
    const jobs: Promise<LaunchedJob>[] = kinds.map(([id, gpus, script]) =>
      taken(launch({ id, executable: '/bin/sh', args: ['-c', script], gpus, env: { JOB: id, CUDA_VISIBLE_DEVICES: '0,1,2,3' } }, `${id}.json`, id)),
    );
    // Kill the long job once it runs (it holds one GPU until then: others wait for it).
    for (let i = 0; i < 1500 && !existsSync(join(dir, 'killed.started')); i++) await sleep(20);
    const launched = await Promise.all(jobs.map(async (j, i) => ({ id: kinds[i]![0], job: await j })));
    launched.find((j) => j.id === 'killed')!.job.kill('cancelled');
    const results = await Promise.all(launched.map(async (j) => ({ id: j.id, r: await j.job.result })));
    const byId = Object.fromEntries(results.map((x) => [x.id, x.r]));
    expect(byId['ok1']).toMatchObject({ state: 'completed' });
    expect(byId['crash-segv']).toMatchObject({ state: 'failed', signal: 'SIGSEGV' });
    expect(byId['fail']).toMatchObject({ state: 'failed', exitCode: 7 });
    expect(byId['killed']).toMatchObject({ state: 'killed' });
    expect(pool.free).toBe(4);
    expect(pool.inUse()).toEqual([]);

    const holding = new Map<string, string[]>();
    const seen = new Map<string, string[]>();
    let most = 0;
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      const [what, job, cuda, nvidia] = line.split(' ');
      if (what === 'start') {
        const devices = cuda!.split(',');
        expect(nvidia, line).toBe(cuda);
        for (const d of devices) {
          const other = [...holding].find(([, ds]) => ds.includes(d));
          expect(other, `${d} given to ${job} while ${other?.[0]} holds it`).toBeUndefined();
        }
        holding.set(job!, devices);
        seen.set(job!, devices);
        most = Math.max(most, holding.size);
      } else holding.delete(job!);
    }
    expect(most).toBeGreaterThan(1); // jobs did run side by side
    for (const [id, gpus] of kinds) {
      expect(seen.get(id), id).toHaveLength(gpus);
      for (const d of seen.get(id)!) expect(UUIDS).toContain(d); // the spec's own CUDA_VISIBLE_DEVICES lost
    }
  }, 120_000);

  it('a job asking for more GPUs than the pilot has is held; one on a pilot without GPUs gets no GPU variables', async () => {
    const store = await CredStore.open(workdir(dir, 'work2'));
    const base = { store, log: silentLogger, signal: new AbortController().signal, workdir: dir, env: process.env };
    const launch = makeSandboxLaunch(parsePolicy({}))({ ...base, gpus: new GpuPool(UUIDS.slice(0, 2)) });
    const held = await (await taken(launch({ id: 'greedy', executable: '/bin/true', gpus: 3 }, 'greedy.json', 'greedy'))).result;
    expect(held).toMatchObject({ state: 'held', launchError: { stage: 'gpus', code: 'GPUS_UNAVAILABLE', permanent: true } });
    expect(held.reason).toContain('asks for 3 GPUs; this pilot has 2');
    const out = join(dir, 'none.out');
    const none = makeSandboxLaunch(parsePolicy({}))({ ...base, gpus: new GpuPool([]) });
    const r = await (await taken(none({ id: 'cpu', executable: '/bin/sh', args: ['-c', 'echo "[${CUDA_VISIBLE_DEVICES-unset}]"'], stdout: out }, 'cpu.json', 'cpu'))).result;
    expect(r.state).toBe('completed');
    expect(readFileSync(out, 'utf8')).toBe('[unset]\n');
    const zero = join(dir, 'zero.out');
    const r0 = await (await taken(launch({ id: 'zero', executable: '/bin/sh', args: ['-c', 'echo "$CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES"'], stdout: zero }, 'zero.json', 'zero'))).result;
    expect(r0.state).toBe('completed');
    expect(readFileSync(zero, 'utf8')).toBe('10000 none\n');
  }, 60_000);

  it.each(['drains', 'retires'])('a job waiting for GPUs when the pilot %s is given up untaken (its spec stays for another pilot)', async (how) => {
    const store = await CredStore.open(workdir(dir, `work-${how}`));
    const pool = new GpuPool(UUIDS.slice(0, 1));
    const drain = new AbortController();
    const stopTaking = new AbortController();
    const launch = makeSandboxLaunch(parsePolicy({}))({ store, log: silentLogger, signal: drain.signal, stopTaking: stopTaking.signal, workdir: dir, env: process.env, gpus: pool });
    const lease = await pool.acquire(1);
    const waiting = Promise.resolve(launch({ id: 'waiter', executable: '/bin/true', gpus: 1 }, 'waiter.json', 'waiter'));
    await sleep(50);
    (how === 'drains' ? drain : stopTaking).abort();
    expect(await waiting).toBeNull();
    if (lease.kind === 'granted') lease.lease.release();
    expect(pool.free).toBe(1); // the waiter took nothing with it
  });
});
