// The startd's GPU inventory (issue 23): what `condor_gpu_discovery -properties` would print for
// the validated devices, so the startd offers exactly those and publishes their nested property
// ads per slot (AvailableGPUs, GPUs_<id>) itself. MACHINE_RESOURCE_INVENTORY_GPUs runs a command
// and reads its output as a ClassAd (src/condor_startd.V6/ResAttributes.cpp): `DetectedGPUs` the
// ids, and each nested ad whose `id` (attribute names are case-insensitive: our `Id`) is one of
// them becomes that device's properties.
export const INVENTORY_FILE = 'gpus.inventory';

/** The inventory text, or null when validation found no GPU or gave no property ads (then MACHINE_RESOURCE_GPUS). */
export function renderGpuInventory(attrs: Readonly<Record<string, unknown>>): string | null {
  const detected = attrs['DetectedGPUs'];
  if (typeof detected !== 'string' || detected.trim() === '') return null;
  const ads: string[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (!/^GPUs_[A-Za-z0-9_]+$/.test(k) || !v || typeof v !== 'object') continue;
    const expr = (v as { classad?: unknown }).classad;
    // One line each, no config macro: the text came from our own validator, checked again here.
    if (typeof expr === 'string' && expr.startsWith('[') && !/[\n\r\0$]/.test(expr)) ads.push(`${k} = ${expr}`);
  }
  if (ads.length === 0) return null;
  return [`DetectedGPUs = "${detected.replace(/["\\\n]/g, '')}"`, ...ads].join('\n') + '\n';
}
