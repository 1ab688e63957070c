// What the batch system allocated to this job, from the variables and files it hands the job:
// HTCondor's machine ad (`_CONDOR_MACHINE_AD`), SLURM, PBS/Torque and LSF. Values are untrusted
// text: anything that is not a plain number is ignored and named in `ignored`.
import { hostname } from 'node:os';
import { readText, type Host } from './host.ts';

export interface BatchAllocation {
  /** e.g. `HTCondor machine ad`, `SLURM`, `PBS`, `LSF` */
  source: string;
  cpus?: number;
  memoryBytes?: number;
  gpus?: number;
}

export interface BatchFacts {
  allocations: BatchAllocation[];
  /** Variables that were set but not understood (name and why), for the detail line. */
  ignored: string[];
}

const MiB = 1024 * 1024;

function positiveInt(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim();
  if (!/^\d{1,9}$/.test(t)) return undefined;
  const n = Number(t);
  return n > 0 ? n : undefined;
}

/** SLURM memory values are MB, optionally with a unit suffix (`4000`, `4000M`, `4G`). */
function slurmMegabytes(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d{1,12})([KMGT]?)$/i.exec(raw.trim());
  if (!m) return undefined;
  const scale = { '': 1, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * scale;
}

/** `Name = 8` attributes of a ClassAd file (only integer-valued ones are needed here). */
function classAdInts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (m) out.set(m[1]!.toLowerCase(), Number(m[2]));
  }
  return out;
}

export async function batchFacts(host: Host): Promise<BatchFacts> {
  const env = host.env;
  const allocations: BatchAllocation[] = [];
  const ignored: string[] = [];
  const adPath = env._CONDOR_MACHINE_AD;
  if (adPath) {
    const text = await readText(adPath);
    if (text === undefined) ignored.push(`_CONDOR_MACHINE_AD (${adPath} unreadable)`);
    else {
      const ad = classAdInts(text);
      const a: BatchAllocation = { source: 'HTCondor machine ad' };
      const cpus = ad.get('cpus');
      const mem = ad.get('memory');
      const gpus = ad.get('gpus');
      if (cpus !== undefined && cpus > 0) a.cpus = Math.floor(cpus);
      if (mem !== undefined && mem > 0) a.memoryBytes = Math.floor(mem * MiB);
      if (gpus !== undefined && gpus >= 0) a.gpus = Math.floor(gpus);
      allocations.push(a);
    }
  }
  if (env.SLURM_JOB_ID !== undefined || env.SLURM_CPUS_ON_NODE !== undefined) {
    const a: BatchAllocation = { source: 'SLURM' };
    const cpus = positiveInt(env.SLURM_CPUS_ON_NODE);
    if (cpus !== undefined) a.cpus = cpus;
    else if (env.SLURM_CPUS_ON_NODE !== undefined) ignored.push('SLURM_CPUS_ON_NODE (not a positive integer)');
    const perNode = slurmMegabytes(env.SLURM_MEM_PER_NODE);
    const perCpu = slurmMegabytes(env.SLURM_MEM_PER_CPU);
    if (perNode !== undefined && perNode > 0) a.memoryBytes = Math.floor(perNode * MiB);
    else if (perCpu !== undefined && perCpu > 0 && cpus !== undefined) a.memoryBytes = Math.floor(perCpu * cpus * MiB);
    else if (env.SLURM_MEM_PER_NODE !== undefined) ignored.push('SLURM_MEM_PER_NODE (not a size in MB)');
    const gpus = positiveInt(env.SLURM_GPUS_ON_NODE);
    if (gpus !== undefined) a.gpus = gpus;
    if (a.cpus !== undefined || a.memoryBytes !== undefined) allocations.push(a);
  }
  if (env.PBS_JOBID !== undefined || env.PBS_NP !== undefined || env.PBS_NUM_PPN !== undefined) {
    // PBS_NUM_PPN is per node; PBS_NP is the whole job (equal on a single-node job).
    const cpus = positiveInt(env.PBS_NUM_PPN) ?? positiveInt(env.PBS_NP);
    if (cpus !== undefined) allocations.push({ source: 'PBS', cpus });
    else if (env.PBS_NP !== undefined) ignored.push('PBS_NP (not a positive integer)');
  }
  if (env.LSB_JOBID !== undefined || env.LSB_DJOB_NUMPROC !== undefined || env.LSB_MCPU_HOSTS !== undefined) {
    let cpus: number | undefined;
    // LSB_MCPU_HOSTS = "hostA 4 hostB 2": the slots on this host.
    const pairs = (env.LSB_MCPU_HOSTS ?? '').trim().split(/\s+/);
    if (pairs.length >= 2 && pairs.length % 2 === 0) {
      const me = hostname();
      const short = me.split('.')[0];
      for (let i = 0; i < pairs.length; i += 2) {
        const h = pairs[i]!;
        if (pairs.length === 2 || h === me || h.split('.')[0] === short) {
          cpus = positiveInt(pairs[i + 1]);
          break;
        }
      }
    }
    cpus ??= positiveInt(env.LSB_DJOB_NUMPROC);
    if (cpus !== undefined) allocations.push({ source: 'LSF', cpus });
    else ignored.push('LSB_MCPU_HOSTS/LSB_DJOB_NUMPROC (no slot count for this host)');
  }
  return { allocations, ignored };
}
