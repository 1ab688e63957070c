// AMD GPUs (issue 23) when there is no nvidia-smi: `amd-smi static --json` (model, VRAM, driver)
// and `amd-smi list --json` (UUIDs), or the older `rocm-smi --json`. ROCm 6.4 and later wrap
// amd-smi's per-GPU list as {"gpu_data": […]}, earlier versions print the bare list; both are
// read. amd-smi's UUID is not what ROCR_VISIBLE_DEVICES takes: HTCondor's condor_gpu_discovery
// (-fix-hip-guid, src/gpu/hip_device_enumeration.cpp) documents the relation: the runtime's
// 16 hex digits b0c0cb9338716a18 are amd-smi's b0ff74a0-0000-1000-80c0-cb9338716a18 (first
// byte, then the last seven), so amd-smi's UUID maps back to the runtime's GPU-<16 hex> id.
import type { GpuDevice } from './gpu-device.ts';
import { findOnPath, type Host } from '../host.ts';
import type { ProbeResult } from '../probe.ts';

type Json = Record<string, unknown>;

function list(v: unknown): Json[] {
  const arr = Array.isArray(v) ? v : v && typeof v === 'object' && Array.isArray((v as Json)['gpu_data']) ? ((v as Json)['gpu_data'] as unknown[]) : [];
  return arr.filter((x): x is Json => !!x && typeof x === 'object');
}

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** amd-smi's UUID → the ROCm runtime's id (`GPU-` and 16 hex digits); null when it has another shape. */
export function rocrIdFromAmdSmiUuid(uuid: string): string | null {
  const m = /^([0-9a-f]{2})[0-9a-f]{6}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{2}([0-9a-f]{2})-([0-9a-f]{12})$/i.exec(uuid.trim());
  return m ? `GPU-${(m[1]! + m[2]! + m[3]!).toLowerCase()}` : null;
}

/** MiB from amd-smi's {"value": N, "unit": "MB"|"GB"|…} (its MB are MiB: VRAM sizes such as 65536 MB). */
function mib(v: unknown): number | null {
  const o = obj(v);
  const n = Number(o['value']);
  if (!Number.isFinite(n)) return null;
  const unit = String(o['unit'] ?? 'MB').toUpperCase();
  return unit === 'GB' ? n * 1024 : unit === 'KB' ? Math.round(n / 1024) : unit === 'B' ? Math.round(n / 1048576) : n;
}

export function parseAmdSmi(staticJson: string, listJson: string): { devices: GpuDevice[]; driverVersion: string | null } {
  const uuids = new Map<number, string>();
  for (const e of list(safeParse(listJson))) if (typeof e['gpu'] === 'number' && typeof e['uuid'] === 'string') uuids.set(e['gpu'], e['uuid']);
  const devices: GpuDevice[] = [];
  let driverVersion: string | null = null;
  for (const g of list(safeParse(staticJson))) {
    const index = g['gpu'];
    if (typeof index !== 'number') continue;
    const asic = obj(g['asic']);
    const id = rocrIdFromAmdSmiUuid(uuids.get(index) ?? '');
    if (!id) continue; // without a usable id no job could be given it
    const ver = obj(g['driver'])['version'];
    if (typeof ver === 'string' && ver) driverVersion = ver;
    const gfx = typeof asic['target_graphics_version'] === 'string' ? (asic['target_graphics_version'] as string) : null;
    devices.push({ index, uuid: id, name: String(asic['market_name'] ?? 'AMD GPU'), memoryMiB: mib(obj(g['vram'])['size']), computeCapability: null, migEnabled: false, parent: null, vendor: 'amd', ...(gfx ? { gfx } : {}) });
  }
  return { devices, driverVersion };
}

/** rocm-smi --showproductname --showmeminfo vram --showuniqueid --json: {"card0": {…}, …}. */
export function parseRocmSmi(text: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const [card, v] of Object.entries(obj(safeParse(text)))) {
    const m = /^card(\d+)$/.exec(card);
    if (!m) continue;
    const f = Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k.toLowerCase(), x]));
    const unique = String(f['unique id'] ?? '').replace(/^0x/i, '');
    if (!/^[0-9a-f]{1,16}$/i.test(unique)) continue;
    const bytes = Number(f['vram total memory (b)']);
    out.push({ index: Number(m[1]), uuid: `GPU-${unique.padStart(16, '0').toLowerCase()}`, name: String(f['card series'] ?? f['card model'] ?? 'AMD GPU'), memoryMiB: Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes / 1048576) : null, computeCapability: null, migEnabled: false, parent: null, vendor: 'amd' });
  }
  return out;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * ROCR_VISIBLE_DEVICES (indices or runtime ids), then HIP_VISIBLE_DEVICES (indices into what ROCR
 * left), as the ROCm runtime applies them; null when neither is set.
 */
export function visibleAmdDevices(devices: GpuDevice[], env: NodeJS.ProcessEnv): GpuDevice[] | null {
  const rocr = env['ROCR_VISIBLE_DEVICES'];
  const hip = env['HIP_VISIBLE_DEVICES'];
  if (rocr === undefined && hip === undefined) return null;
  let out = devices;
  if (rocr !== undefined) {
    out = [];
    for (const e of rocr.split(',').map((s) => s.trim()).filter(Boolean)) {
      const d = /^\d+$/.test(e) ? devices.find((x) => x.index === Number(e)) : devices.find((x) => x.uuid.toLowerCase() === e.toLowerCase());
      if (d && !out.includes(d)) out.push(d);
    }
  }
  if (hip !== undefined) {
    const base = out;
    out = [];
    for (const e of hip.split(',').map((s) => s.trim())) {
      const d = /^\d+$/.test(e) ? base[Number(e)] : undefined;
      if (!d || out.includes(d)) break;
      out.push(d);
    }
  }
  return out;
}

export type Probe = (tool: string, args: string[]) => Promise<ProbeResult>;

/** AMD devices from amd-smi, else rocm-smi; `tool` null when neither is on PATH. */
export async function collectAmd(host: Host, probe: Probe): Promise<{ tool: string | null; result: ProbeResult | null; devices: GpuDevice[]; driverVersion: string | null }> {
  const amd = await findOnPath('amd-smi', host);
  if (amd) {
    const [st, ls] = await Promise.all([probe(amd, ['static', '--json']), probe(amd, ['list', '--json'])]);
    const bad = [st, ls].find((r) => r.code !== 0 || r.timedOut) ?? null;
    return { tool: amd, result: bad, ...(bad ? { devices: [], driverVersion: null } : parseAmdSmi(st.stdout, ls.stdout)) };
  }
  const rocm = await findOnPath('rocm-smi', host);
  if (!rocm) return { tool: null, result: null, devices: [], driverVersion: null };
  const r = await probe(rocm, ['--showproductname', '--showmeminfo', 'vram', '--showuniqueid', '--json']);
  const bad = r.code !== 0 || r.timedOut ? r : null;
  return { tool: rocm, result: bad, devices: bad ? [] : parseRocmSmi(r.stdout), driverVersion: null };
}
