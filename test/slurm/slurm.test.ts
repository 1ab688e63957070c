// The pilot under a real batch system (issue 12): a one-node Slurm cluster on localhost
// (test/helpers/slurm.ts), `dist/glidein` started by srun and sbatch, the real refresh service
// on loopback with 20 s credentials. Skipped with the reason where Slurm cannot run (not root,
// slurm-wlm or munge missing, daemons failing); required in CI (GLIDEIN_TEST_REQUIRE_TOOLS=1).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXE } from '../helpers/paths.ts';
import { skipWithout } from '../helpers/system-tools.ts';
import { SLURM_HOW, slurmUnavailable, startSlurm, type SlurmCluster } from '../helpers/slurm.ts';
import { startTestService, type TestService } from '../fixtures/pilot/service.ts';
import { SqliteStateStore } from '../../refresh-service/state/sqlite-store.ts';
import { writeBundle } from '../fixtures/pilot/support.ts';
import { bundleExpiries, filesUnder, pilotLog, pilotSummary, sbatch, secretsUnder, waitForFile, waitGone, wrapCommand, writeExecScript, type PilotFiles } from './pilot-job.ts';

const LIFETIME_S = 20;
const MiB = 2 ** 20;

const unavailable = slurmUnavailable();
let slurm: SlurmCluster | undefined;
let startError = '';
if (!skipWithout('Slurm (munged, slurmctld, slurmd and the client commands)', unavailable === undefined, `${unavailable ?? ''}: ${SLURM_HOW}`)) {
  if (!existsSync(EXE)) throw new Error(`${EXE} is missing: build it first (npm run build)`);
  try {
    slurm = await startSlurm();
    console.info(`[slurm] one-node cluster up: ${slurm.cpus} CPUs, ${slurm.memoryMiB} MiB, ${slurm.confinement}${slurm.fallbackReason ? ` (cgroup plugins not used: ${slurm.fallbackReason})` : ''}`);
  } catch (e) {
    startError = (e as Error).message;
  }
}
const skip = unavailable !== undefined || skipWithout('a running one-node Slurm cluster', slurm !== undefined, `slurmctld/slurmd could not start here: ${startError}`);
const cluster = () => slurm!;
/** Whether Slurm confines jobs with cgroups (proctrack/cgroup, task/cgroup) on this machine. */
const confined = () => cluster().confinement !== 'linuxproc';

const dirs: string[] = [];
let service: TestService | undefined;
let starting: Promise<TestService> | undefined;
afterAll(async () => {
  await slurm?.stop();
  await service?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

/** One refresh service for every pilot (the concurrent tests share the one start). */
function refreshService(): Promise<TestService> {
  starting ??= startTestService({ idtoken: LIFETIME_S, scitoken: LIFETIME_S }).then((s) => (service = s));
  return starting;
}

/**
 * A registered pilot: bundle (with requirements), work-dir base and payload script. The payload's
 * lines run with `$d` = the pilot's test dir (where it leaves what the test reads).
 */
async function pilot(name: string, payload: string[], options: { requirements?: string[]; base?: string } = {}): Promise<PilotFiles> {
  const s = await refreshService();
  const dir = mkdtempSync(join(tmpdir(), `glidein-slurm-${name}-`));
  dirs.push(dir);
  const bundle = await s.bundlePath(`g-slurm-${name}`);
  const wire = JSON.parse(readFileSync(bundle, 'utf8')) as Record<string, unknown>;
  const p: PilotFiles = { dir, bundle: join(dir, 'bundle.json'), base: options.base ?? join(dir, 'work'), payload: join(dir, 'payload.sh') };
  writeBundle(p.bundle, options.requirements ? { ...wire, requirements: options.requirements } : wire);
  mkdirSync(p.base, { recursive: true });
  writeFileSync(p.payload, ['d=$(dirname "$0")', ...payload, ''].join('\n'));
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A payload that says when it runs (its pid in payload.pid) and then waits. */
const PATIENT_PAYLOAD = ['echo $$ > "$d/payload.pid.tmp" && mv "$d/payload.pid.tmp" "$d/payload.pid"', 'exec sleep 300'];
/** The same, ignoring SIGTERM (the signal stays ignored across exec). */
const STUBBORN_PAYLOAD = ["trap '' TERM", ...PATIENT_PAYLOAD];

/** Submit a pilot with one core and 500 MiB; resolves when its payload runs. */
async function submitRunning(p: PilotFiles, args: string[]): Promise<{ id: string; pid: number }> {
  const id = await sbatch(cluster(), p, ['-c', '1', '--mem=500M', ...args]);
  await waitForFile(cluster(), id, join(p.dir, 'payload.pid'), 60_000);
  return { id, pid: Number(readFileSync(join(p.dir, 'payload.pid'), 'utf8')) };
}
/** What the service holds for a pilot: its family's state and the last status report. */
async function serviceRecord(glideinId: string): Promise<{ family: string; status: { validation?: { json: { checks: { name: string; value?: unknown }[] } } } }> {
  const store = new SqliteStateStore((await refreshService()).stateDir);
  try {
    const f = await store.getFamily(glideinId);
    const family = f === undefined ? 'unknown' : f.revokedAt === null ? 'live' : `revoked (${f.revokeReason ?? 'no reason'})`;
    const report = (await store.getStatus(glideinId))?.report;
    return { family, status: report === undefined ? {} : JSON.parse(report) };
  } finally {
    await store.close();
  }
}
/** The pid of the agent running with this bundle, and the name of its parent process. */
function agentProcess(bundle: string): { pid: number; parent: string } | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('run') || !argv.includes(bundle)) continue;
      const ppid = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))![1]!;
      return { pid: Number(entry), parent: readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() };
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}
/**
 * Whether a process is gone within a few seconds: a job leaves the queue while slurmstepd is
 * still killing what remains of it.
 */
async function gone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
  }
  return false;
}

describe.skipIf(skip)('the pilot under a one-node Slurm', () => {
  it('srun -c 1 --mem=1000M: validate reports 1 core and 1000 MiB, and --require cores=2 fails with WN_Resource', async () => {
    const srun = ['-c', '1', '--mem=1000M', EXE, 'validate', '--format', 'json'];
    const r = await cluster().client('srun', srun, 60_000);
    expect(r.code, r.stderr).toBe(0);
    const check = (out: string, name: string) => (JSON.parse(out) as { checks: { name: string }[] }).checks.find((c) => c.name === name);
    expect(check(r.stdout, 'cores')).toMatchObject({ status: 'pass', value: 1 });
    // Only task/cgroup confines (and so tells) a step's memory: srun exports no SLURM_MEM_PER_NODE.
    if (confined()) expect(check(r.stdout, 'memory')).toMatchObject({ status: 'pass', value: 1000 * MiB });
    else console.info(`[slurm] ${cluster().confinement}: srun's memory is neither confined nor exported; validate sees the host's`);
    const more = await cluster().client('srun', [...srun, '--require', `cores=${Math.max(2, cluster().cpus)}`], 60_000);
    expect(more.code, more.stderr).toBe(1);
    expect(JSON.parse(more.stdout)).toMatchObject({ status: 'ERROR' });
    expect(check(more.stdout, 'cores')).toMatchObject({ status: 'fail', value: 1, failure: 'WN_Resource' });
  }, 90_000);

  it.concurrent('a pilot whose bundle expired while the job was queued refreshes first, validates against its allocation, runs its payload past a C-CRED lifetime, exits 0 and leaves nothing', async () => {
    const p = await pilot('stale', [
      'tok="$_CONDOR_SEC_TOKEN_DIRECTORY/glidein-collector"',
      'date +%s%N > "$d/t1"; cat "$tok" > "$d/first"',
      `sleep ${LIFETIME_S + 4}`,
      'date +%s%N > "$d/t2"; cat "$tok" > "$d/second"',
    ], { requirements: ['cores=1', 'memory=500MiB'] });
    const id = await sbatch(cluster(), p, ['--hold', '-c', '1', '--mem=500M', writeExecScript(p)]);
    // The queue wait: the job may start only once every credential in its bundle has expired.
    const latest = Math.max(...bundleExpiries(p.bundle));
    await sleep(Math.max(0, (latest + 1) * 1000 - Date.now()));
    expect(latest).toBeLessThan(Date.now() / 1000);
    expect((await cluster().client('scontrol', ['release', id])).code).toBe(0);
    // While the payload runs, the service holds the report the pilot sent when it started it:
    // the node as the allocation gives it (one core, 500 MiB), not as the host is.
    await waitForFile(cluster(), id, join(p.dir, 'first'), 60_000);
    const checks = (await serviceRecord('g-slurm-stale')).status.validation?.json.checks ?? [];
    expect(checks.filter((c) => c.name === 'cores' || c.name === 'memory').map((c) => [c.name, c.value])).toEqual([['cores', 1], ['memory', 500 * MiB]]);
    const info = await waitGone(cluster(), id, 120_000);
    const log = pilotLog(p);
    expect(info.exitCode, log).toBe('0:0');
    expect(pilotSummary(p), log).toMatchObject({ exitCode: 0, reason: 'command-exited', validation: 'OK', jobs: { completed: 1 } });
    const ns = (f: string) => Number(readFileSync(join(p.dir, f), 'utf8').trim());
    const t1 = ns('t1') / 1e9;
    const t2 = ns('t2') / 1e9;
    // Each token the payload read was valid then; the second was minted after the first expired.
    const s = await refreshService();
    const first = s.verifyIdtoken(readFileSync(join(p.dir, 'first'), 'utf8').trim(), Math.floor(t1));
    const second = s.verifyIdtoken(readFileSync(join(p.dir, 'second'), 'utf8').trim(), Math.floor(t2));
    expect(t2 - t1).toBeGreaterThan(LIFETIME_S);
    expect(second['exp'] as number).toBeGreaterThan(first['exp'] as number);
    expect(filesUnder(p.base)).toEqual([]);
    console.info(`[slurm] stale bundle: job start to the payload holding a valid C-CRED: ${((ns('t1') - ns('job-start-ns')) / 1e6).toFixed(0)} ms`);
  }, 150_000);

  it.concurrent('scancel of a pilot whose payload ignores SIGTERM: the payload is gone and no secret is left under the work dir', async () => {
    const p = await pilot('scancel', STUBBORN_PAYLOAD);
    const { id, pid } = await submitRunning(p, [writeExecScript(p)]);
    // While the pilot runs its store holds the secrets a kill must not leave behind.
    expect(secretsUnder(p.base).length).toBeGreaterThan(0);
    const t0 = Date.now();
    expect((await cluster().client('scancel', [id])).code).toBe(0);
    const info = await waitGone(cluster(), id, 90_000);
    expect(await gone(pid)).toBe(true);
    const left = filesUnder(p.base);
    console.info(`[slurm] scancel (KillWait 30 s): job gone after ${((Date.now() - t0) / 1000).toFixed(1)} s, ${info.state}; left under the work dir: ${left.join(', ') || 'nothing'}; family ${(await serviceRecord('g-slurm-scancel')).family}`);
    const log = pilotLog(p);
    expect(secretsUnder(p.base), log).toEqual([]);
    // The agent itself drained (it was not SIGKILLed by Slurm first) and reported it.
    expect(pilotSummary(p), log).toMatchObject({ reason: 'signal', jobs: { killed: 1, running: 0 } });
  }, 150_000);

  it.concurrent('a plain scancel of a pilot under a non-exec sbatch --wrap shell: the shell dies at once and the agent is cut short (cgroup: SIGKILLed mid-drain)', async () => {
    const p = await pilot('wrap-scancel', STUBBORN_PAYLOAD);
    const { id, pid } = await submitRunning(p, ['--wrap', wrapCommand(p)]);
    // The shell Slurm wrote runs the agent as its child (dash does not exec the last command).
    expect(agentProcess(p.bundle)?.parent).toBe('slurm_script');
    const t0 = Date.now();
    expect((await cluster().client('scancel', [id])).code).toBe(0);
    // Every process of the job gets SIGTERM; the shell dies of it and the batch step is over,
    // well before KillWait and before the agent's drain could end (its payload ignores
    // SIGTERM, so the drain takes the kill grace).
    const info = await waitGone(cluster(), id, 60_000);
    const seconds = (Date.now() - t0) / 1000;
    expect(seconds).toBeLessThan(15);
    if (confined()) {
      // slurmstepd SIGKILLs what is left in the job's cgroup at once.
      expect(await gone(pid)).toBe(true);
      expect(pilotSummary(p)).toBeUndefined();
    } else {
      // linuxproc tracks the job by its process tree, which the dead shell broke: the agent
      // starts its drain outside the job, and the payload is gone only later.
      expect(await gone(pid, 45_000)).toBe(true);
    }
    const left = secretsUnder(p.base);
    console.info(`[slurm] --wrap, plain scancel (${cluster().confinement}): ${info.state} ${info.exitCode} after ${seconds.toFixed(1)} s; agent summary: ${pilotSummary(p) ? 'written' : 'none (SIGKILLed)'}; left under the work dir: ${left.join(', ') || 'nothing'}`);
  }, 150_000);

  it.concurrent('a pilot under a non-exec sbatch --wrap shell dies by SIGKILL when only the batch shell is signalled, and the next pilot on the same work-dir base removes what it left', async () => {
    const p = await pilot('wrap', STUBBORN_PAYLOAD);
    const { id, pid } = await submitRunning(p, ['--wrap', wrapCommand(p)]);
    // The shell Slurm wrote runs the agent as its child: a signal for the batch step's
    // process (scancel --batch, sbatch --signal=B:...) reaches the shell, not the agent.
    expect(agentProcess(p.bundle)?.parent).toBe('slurm_script');
    expect((await cluster().client('scancel', ['--batch', '--signal=TERM', id])).code).toBe(0);
    const info = await waitGone(cluster(), id, 60_000);
    if (!confined()) {
      // linuxproc lost the agent with its parent shell: the pilot runs on outside the job, its
      // payload too, until someone stops it. The test does (SIGKILL, as a reboot would).
      const agent = agentProcess(p.bundle);
      expect(agent).toBeDefined();
      console.info(`[slurm] --wrap, batch shell signalled (linuxproc): the job is gone but the agent (pid ${agent!.pid}) and its payload still run`);
      process.kill(agent!.pid, 'SIGKILL');
      process.kill(pid, 'SIGKILL');
    }
    expect(await gone(pid)).toBe(true);
    // The agent saw only SIGKILL: its store is still there.
    const left = secretsUnder(p.base);
    expect(left.length).toBeGreaterThan(0);
    console.info(`[slurm] --wrap, batch shell signalled: ${info.state} ${info.exitCode}; agent summary: ${pilotSummary(p) ? 'written' : 'none (SIGKILLed)'}; left under the work dir: ${left.join(', ') || 'nothing'}; family ${(await serviceRecord('g-slurm-wrap')).family}`);
    // A later pilot on the same base finds the dead pilot's directory (its lock is free) and removes it.
    const next = await pilot('wrap-next', ['true'], { base: p.base });
    const nextId = await sbatch(cluster(), next, ['-c', '1', '--mem=500M', writeExecScript(next)]);
    const nextInfo = await waitGone(cluster(), nextId, 60_000);
    expect(nextInfo.exitCode, pilotLog(next)).toBe('0:0');
    expect(filesUnder(p.base), pilotLog(next)).toEqual([]);
  }, 150_000);
});
