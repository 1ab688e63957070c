// A real one-node Slurm cluster on localhost for the batch-system tests (issue 12): munged with
// its own key and socket, slurmctld and slurmd in the foreground (-D) as children of the test,
// every file (config, state, spool, logs) in one temp dir, free ports, and SLURM_CONF for the
// clients. Confinement is proctrack/cgroup + task/affinity,task/cgroup (ConstrainCores,
// ConstrainRAMSpace) where the kernel's cgroups allow it, else proctrack/linuxproc +
// task/affinity; which one is in `confinement`. Root only (slurmd starts jobs as their owner).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, totalmem, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.ts';
import { findExecutable } from './system-tools.ts';

export const SLURM_TOOLS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'srun', 'sinfo', 'squeue', 'scontrol', 'scancel'] as const;
export const SLURM_HOW = 'install slurm-wlm and munge (Debian: apt-get install slurm-wlm munge) and run the tests as root';

export type Confinement = 'cgroup/v1' | 'cgroup/v2' | 'linuxproc';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SlurmCluster {
  dir: string;
  node: string;
  cpus: number;
  /** MiB the node offers to jobs (RealMemory). */
  memoryMiB: number;
  confinement: Confinement;
  /** Why the cgroup plugins were not used (absent when they are). */
  fallbackReason?: string;
  /** Environment for client commands (SLURM_CONF set, inherited SLURM_* and proxies removed). */
  env: NodeJS.ProcessEnv;
  /** Run a Slurm client command against this cluster. */
  client(cmd: string, args: string[], timeoutMs?: number): Promise<CommandResult>;
  /** The last lines of the daemons' logs (for failure messages). */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

/** Why this machine cannot run the cluster, or undefined when it may try. */
export function slurmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the Slurm tests run the daemons as root (CI is root)';
  const missing = SLURM_TOOLS.filter((t) => findExecutable(t) === undefined);
  return missing.length > 0 ? `missing ${missing.join(', ')}` : undefined;
}

/** The cgroup interface the kernel offers with the controllers Slurm's cgroup plugins need. */
export function detectCgroup(): Exclude<Confinement, 'linuxproc'> | undefined {
  const controllers = '/sys/fs/cgroup/cgroup.controllers';
  if (existsSync(controllers)) {
    const have = readFileSync(controllers, 'utf8').split(/\s+/);
    return ['cpuset', 'memory'].every((c) => have.includes(c)) ? 'cgroup/v2' : undefined;
  }
  return ['freezer', 'cpuset', 'memory'].every((c) => existsSync(join('/sys/fs/cgroup', c, 'tasks'))) ? 'cgroup/v1' : undefined;
}

export function cleanClientEnv(slurmConf: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SLURM_') || /^(https?|no)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  env['SLURM_CONF'] = slurmConf;
  return env;
}

export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr: err !== null && code === null ? `${stderr}\n${err.message}` : stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Layout {
  dir: string;
  node: string;
  cpus: number;
  memoryMiB: number;
  ctldPort: number;
  slurmdPort: number;
  mungeSocket: string;
}

function slurmConf(l: Layout, confinement: Confinement): string {
  const cgroup = confinement !== 'linuxproc';
  return [
    'ClusterName=glidein-test',
    'SlurmctldHost=localhost',
    'SlurmUser=root',
    'SlurmdUser=root',
    `SlurmctldPort=${l.ctldPort}`,
    `SlurmdPort=${l.slurmdPort}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${l.mungeSocket}`,
    `StateSaveLocation=${join(l.dir, 'state')}`,
    `SlurmdSpoolDir=${join(l.dir, 'spool')}`,
    `SlurmctldPidFile=${join(l.dir, 'slurmctld.pid')}`,
    `SlurmdPidFile=${join(l.dir, 'slurmd.pid')}`,
    `SlurmctldLogFile=${join(l.dir, 'log', 'slurmctld.log')}`,
    `SlurmdLogFile=${join(l.dir, 'log', 'slurmd.log')}`,
    'SlurmctldDebug=info',
    'SlurmdDebug=info',
    'MailProg=/bin/true',
    `ProctrackType=${cgroup ? 'proctrack/cgroup' : 'proctrack/linuxproc'}`,
    `TaskPlugin=${cgroup ? 'task/affinity,task/cgroup' : 'task/affinity'}`,
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    'SchedulerType=sched/builtin',
    'MpiDefault=none',
    'ReturnToService=2',
    // Slurm's default, stated: a kill sends SIGTERM to every process of the job, SIGKILL 30 s later.
    'KillWait=30',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    `NodeName=${l.node} NodeAddr=127.0.0.1 CPUs=${l.cpus} RealMemory=${l.memoryMiB} State=UNKNOWN`,
    `PartitionName=test Nodes=${l.node} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

function cgroupConf(confinement: Exclude<Confinement, 'linuxproc'>): string {
  return [
    `CgroupPlugin=${confinement}`,
    'ConstrainCores=yes',
    'ConstrainRAMSpace=yes',
    // cgroup/v2 without a systemd to ask (containers, CI): build the hierarchy directly.
    ...(confinement === 'cgroup/v2' ? ['IgnoreSystemdOnFailure=yes'] : []),
    '',
  ].join('\n');
}

class Daemons {
  children: { name: string; child: ChildProcess }[] = [];
  readonly logDir: string;
  constructor(logDir: string) {
    this.logDir = logDir;
  }

  start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const out = openSync(join(this.logDir, `${name}.out`), 'a');
    const child = spawn(cmd, args, { env, stdio: ['ignore', out, out] });
    closeSync(out);
    child.on('error', () => undefined);
    this.children.push({ name, child });
    return child;
  }

  dead(): string[] {
    return this.children.filter((c) => c.child.exitCode !== null || c.child.signalCode !== null).map((c) => c.name);
  }

  async stop(names: string[]): Promise<void> {
    const targets = this.children.filter((c) => names.includes(c.name));
    await Promise.all(targets.map(({ child }) => stopChild(child)));
    this.children = this.children.filter((c) => !names.includes(c.name));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

/** Remove the (empty) cgroups slurmd made for this node: `slurm_<node>` under each hierarchy. */
function removeSlurmCgroups(node: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  const rmTree = (dir: string) => {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
      rmdirSync(dir);
    } catch {
      /* not there, or still holding a process: leave it */
    }
  };
  for (const root of roots) rmTree(join(root, `slurm_${node}`));
}

async function startMunge(dir: string, daemons: Daemons): Promise<string> {
  const mungeDir = join(dir, 'munge');
  // munged wants its socket's directory searchable by all and its key readable by it alone.
  mkdirSync(mungeDir, { mode: 0o755 });
  const key = join(mungeDir, 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(mungeDir, 'munge.socket');
  daemons.start('munged', findExecutable('munged')!, ['--foreground', `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(mungeDir, 'munged.pid')}`, `--seed-file=${join(mungeDir, 'munged.seed')}`, `--log-file=${join(dir, 'log', 'munged.log')}`], process.env);
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
  if (!existsSync(socket)) throw new Error(`munged did not create ${socket}:\n${tail(join(dir, 'log', 'munged.out'), 20)}`);
  return socket;
}

/** Wait until sinfo reports the node idle; undefined on success, else why not. */
async function waitIdle(l: Layout, env: NodeJS.ProcessEnv, daemons: Daemons, timeoutMs: number): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const dead = daemons.dead();
    if (dead.length > 0) return `${dead.join(', ')} exited`;
    const r = await runCommand('sinfo', ['-h', '-n', l.node, '-o', '%T'], env, 5000);
    last = r.stdout.trim() || r.stderr.trim();
    if (r.code === 0 && last === 'idle') return undefined;
    await sleep(250);
  }
  return `the node did not become idle in ${timeoutMs / 1000} s (sinfo: ${last || 'nothing'})`;
}

async function startDaemons(l: Layout, confinement: Confinement, env: NodeJS.ProcessEnv, daemons: Daemons): Promise<string | undefined> {
  writeFileSync(join(l.dir, 'slurm.conf'), slurmConf(l, confinement));
  if (confinement === 'linuxproc') rmSync(join(l.dir, 'cgroup.conf'), { force: true });
  else writeFileSync(join(l.dir, 'cgroup.conf'), cgroupConf(confinement));
  for (const d of ['state', 'spool']) {
    rmSync(join(l.dir, d), { recursive: true, force: true });
    mkdirSync(join(l.dir, d), { mode: 0o755 });
  }
  daemons.start('slurmctld', findExecutable('slurmctld')!, ['-D'], env);
  daemons.start('slurmd', findExecutable('slurmd')!, ['-D', '-N', l.node], env);
  return waitIdle(l, env, daemons, 30_000);
}

/**
 * Start the cluster, trying the cgroup plugins first where the kernel has the controllers. Throws
 * with the daemons' logs when even proctrack/linuxproc cannot start.
 */
export async function startSlurm(): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'glidein-slurm-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'log'));
  const daemons = new Daemons(join(dir, 'log'));
  const confPath = join(dir, 'slurm.conf');
  const env = cleanClientEnv(confPath);
  const logs = (lines = 30) =>
    ['munged.out', 'slurmctld.log', 'slurmd.log', 'slurmctld.out', 'slurmd.out'].map((f) => `--- ${f}\n${tail(join(dir, 'log', f), lines)}`).join('\n');
  // A name of its own (slurmd -N, NodeAddr=127.0.0.1): slurmd's cgroups live under
  // slurm_<node>, and two clusters at once (test files run in parallel) must not share them.
  const node = `gl${randomBytes(4).toString('hex')}`;
  const teardown = async () => {
    await daemons.stop(['slurmd', 'slurmctld']);
    await daemons.stop(['munged']);
    removeSlurmCgroups(node);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const l: Layout = {
      dir,
      node,
      cpus: availableParallelism(),
      // What jobs may ask for; below the machine's memory, else slurmd marks the node invalid.
      memoryMiB: Math.min(4096, Math.floor((totalmem() / 2 ** 20) * 0.8)),
      ctldPort: await freePort(),
      slurmdPort: await freePort(),
      mungeSocket: await startMunge(dir, daemons),
    };
    // GLIDEIN_TEST_SLURM_CONFINEMENT=linuxproc tries the fallback on a machine that has cgroups.
    const forced = process.env['GLIDEIN_TEST_SLURM_CONFINEMENT'] === 'linuxproc';
    const cgroup = forced ? undefined : detectCgroup();
    let confinement: Confinement = cgroup ?? 'linuxproc';
    let fallbackReason = cgroup ? undefined : forced ? 'GLIDEIN_TEST_SLURM_CONFINEMENT=linuxproc' : 'the kernel offers no cgroup hierarchy with the cpuset, memory (and on v1 freezer) controllers';
    let failed = await startDaemons(l, confinement, env, daemons);
    if (failed !== undefined && cgroup) {
      fallbackReason = `${cgroup} did not start (${failed}); slurmd said:\n${tail(join(dir, 'log', 'slurmd.log'), 8)}`;
      await daemons.stop(['slurmd', 'slurmctld']);
      confinement = 'linuxproc';
      failed = await startDaemons(l, confinement, env, daemons);
    }
    if (failed !== undefined) throw new Error(`slurmctld/slurmd did not start: ${failed}\n${logs()}`);
    return {
      dir,
      node: l.node,
      cpus: l.cpus,
      memoryMiB: l.memoryMiB,
      confinement,
      ...(fallbackReason === undefined ? {} : { fallbackReason }),
      env,
      client: (cmd, args, timeoutMs) => runCommand(cmd, args, env, timeoutMs),
      logs,
      async stop() {
        // Jobs still running would outlive slurmd (their slurmstepd is its own process).
        await runCommand('scancel', ['--full', '--signal=KILL', '--user=root'], env, 10_000);
        for (let i = 0; i < 40; i++) {
          const q = await runCommand('squeue', ['-h', '-o', '%i'], env, 5000);
          if (q.code !== 0 || q.stdout.trim() === '') break;
          await sleep(250);
        }
        await teardown();
      },
    };
  } catch (e) {
    const log = logs();
    await teardown();
    throw new Error(`${(e as Error).message}${(e as Error).message.includes('--- munged.out') ? '' : `\n${log}`}`);
  }
}
