// GPU facts from nvidia-smi (run out of process under a deadline), narrowed to the devices this
// pilot may use: CUDA_VISIBLE_DEVICES (indices or UUID prefixes, enumeration stopping at the
// first entry that names no device, as CUDA does) and the batch allocation. A GPU in MIG mode
// is replaced by its MIG devices (from `nvidia-smi -L`, gpu-list.ts).
import { findOnPath, type Host } from '../host.ts';
import { runProbe } from '../probe.ts';
import { migDevices, parseGpuList } from './gpu-list.ts';
import type { GpuDevice } from './gpu-device.ts';
import { collectAmd, visibleAmdDevices, type Probe } from './amd-gpu.ts';

export type { GpuDevice };

export interface GpuFacts {
  /** Path of nvidia-smi, or null when it is not on PATH. */
  tool: string | null;
  /** Why nvidia-smi gave no answer, when it did not. */
  error: string | null;
  /** nvidia-smi was killed at its deadline: a broken node, never "no GPU". */
  hung?: boolean;
  /** All schedulable devices nvidia-smi lists (MIG devices in place of their GPUs). */
  devices: GpuDevice[];
  /** The devices this pilot may use. */
  usable: GpuDevice[];
  driverVersion: string | null;
  cudaVersion: string | null;
  /** How the usable set was narrowed (for the detail line). */
  narrowedBy: string[];
}

export const QUERY = '--query-gpu=index,uuid,name,memory.total,driver_version,compute_cap,mig.mode.current';

export function parseGpuQuery(csv: string): { devices: GpuDevice[]; driverVersion: string | null } {
  const devices: GpuDevice[] = [];
  let driverVersion: string | null = null;
  for (const line of csv.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 6 || !/^\d+$/.test(f[0]!)) continue;
    const mem = Number(f[3]);
    devices.push({
      index: Number(f[0]),
      uuid: f[1]!,
      name: f[2]!,
      memoryMiB: Number.isFinite(mem) ? mem : null,
      computeCapability: /^\d+\.\d+$/.test(f[5]!) ? f[5]! : null,
      migEnabled: f[6] === 'Enabled',
      parent: null,
    });
    if (/^[\d.]+$/.test(f[4]!)) driverVersion = f[4]!;
  }
  return { devices, driverVersion };
}

export function parseCudaVersion(banner: string): string | null {
  return /CUDA Version:\s*([\d.]+)/.exec(banner)?.[1] ?? null;
}

/** Apply CUDA_VISIBLE_DEVICES: null when unset, else the visible devices in the order given. */
export function visibleDevices(devices: GpuDevice[], cvd: string | undefined): GpuDevice[] | null {
  if (cvd === undefined) return null;
  const out: GpuDevice[] = [];
  for (const raw of cvd.split(',')) {
    const entry = raw.trim();
    let found: GpuDevice | undefined;
    // An ordinal names a whole GPU; a MIG device is named by its UUID (CUDA's own MIG enumeration is not modelled).
    if (/^\d+$/.test(entry)) found = devices.find((d) => d.index === Number(entry) && d.parent === null);
    else if (/^(GPU|MIG)-[0-9a-fA-F-]+/.test(entry)) found = devices.find((d) => d.uuid.toLowerCase().startsWith(entry.toLowerCase()));
    if (!found || out.includes(found)) break;
    out.push(found);
  }
  return out;
}

export async function collectGpuFacts(host: Host, options: { signal: AbortSignal; timeoutMs: number; allocatedGpus?: number }): Promise<GpuFacts> {
  const tool = await findOnPath('nvidia-smi', host);
  const env = { PATH: host.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  if (!tool) return collectAmdFacts(host, options, (t, args) => runProbe(t, args, { timeoutMs: options.timeoutMs, env, signal: options.signal }));
  const none: GpuFacts = { tool, error: null, devices: [], usable: [], driverVersion: null, cudaVersion: null, narrowedBy: [] };
  const probe = (args: string[]) => runProbe(tool, args, { timeoutMs: options.timeoutMs, env, signal: options.signal });
  const [query, banner, list] = await Promise.all([probe([QUERY, '--format=csv,noheader,nounits']), probe([]), probe(['-L'])]);
  const hung = [query, banner, list].some((r) => r.timedOut);
  if (query.code !== 0 || hung) {
    const why = hung ? `nvidia-smi did not answer within ${options.timeoutMs} ms (killed): a hung driver`
      : query.spawnError ?? `nvidia-smi exited with ${query.code ?? query.signal}: ${(query.stdout + query.stderr).trim().split('\n')[0] ?? ''}`;
    return { ...none, error: why, hung };
  }
  const parsed = parseGpuQuery(query.stdout);
  const devices = migDevices(parsed.devices, list.code === 0 ? parseGpuList(list.stdout) : new Map());
  const { usable, narrowedBy } = narrow(devices, visibleDevices(devices, host.env.CUDA_VISIBLE_DEVICES), 'CUDA_VISIBLE_DEVICES', options.allocatedGpus);
  return { tool, error: null, devices, usable, driverVersion: parsed.driverVersion, cudaVersion: banner.code === 0 ? parseCudaVersion(banner.stdout) : null, narrowedBy };
}

function narrow(devices: GpuDevice[], visible: GpuDevice[] | null, by: string, allocated: number | undefined): { usable: GpuDevice[]; narrowedBy: string[] } {
  const narrowedBy: string[] = [];
  let usable = devices;
  if (visible !== null) {
    usable = visible;
    narrowedBy.push(by);
  }
  if (allocated !== undefined && allocated < usable.length) {
    usable = usable.slice(0, allocated);
    narrowedBy.push('batch allocation');
  }
  return { usable, narrowedBy };
}

/** No nvidia-smi: AMD's tools (amd-gpu.ts), narrowed by ROCR_VISIBLE_DEVICES/HIP_VISIBLE_DEVICES and the allocation. */
async function collectAmdFacts(host: Host, options: { allocatedGpus?: number; timeoutMs: number }, probe: Probe): Promise<GpuFacts> {
  const amd = await collectAmd(host, probe);
  const none: GpuFacts = { tool: amd.tool, error: null, devices: [], usable: [], driverVersion: null, cudaVersion: null, narrowedBy: [] };
  if (!amd.tool) return none;
  const name = amd.tool.split('/').pop()!;
  if (amd.result) {
    const r = amd.result;
    const why = r.timedOut ? `${name} did not answer within ${options.timeoutMs} ms (killed): a hung driver`
      : r.spawnError ?? `${name} exited with ${r.code ?? r.signal}: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`;
    return { ...none, error: why, hung: r.timedOut };
  }
  const rocr = host.env['ROCR_VISIBLE_DEVICES'] !== undefined ? 'ROCR_VISIBLE_DEVICES' : 'HIP_VISIBLE_DEVICES';
  const { usable, narrowedBy } = narrow(amd.devices, visibleAmdDevices(amd.devices, host.env), rocr, options.allocatedGpus);
  return { ...none, devices: amd.devices, usable, driverVersion: amd.driverVersion, narrowedBy };
}
