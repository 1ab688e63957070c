// disk: free space in the work directory against the requirement (or GlideinWMS's ~1 GB default
// minimum as a warning), and a writable temporary directory (a hard failure, as in GlideinWMS).
import { collectDiskFacts, type DiskFacts } from '../validate/facts/disk.ts';
import { defineValidator } from '../validate/validator.ts';
import { formatBytes } from '../validate/size.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

/** GlideinWMS's default minimum free disk in the work dir. */
export const DEFAULT_MIN_DISK = 1e9;

export function checkDisk(f: DiskFacts, req: Requirements): CheckOutcome {
  const required = req.disk ?? null;
  const attributes = { GLIDEIN_TMP_WRITABLE: f.tmpWritable } as Record<string, number | boolean>;
  if (f.freeBytes !== null) attributes.GLIDEIN_DISK_FREE_MB = Math.floor(f.freeBytes / 2 ** 20);
  if (f.freeBytes === null) {
    return { result: { name: 'disk', status: 'fail', value: null, required, detail: `cannot read free space of ${f.workdir}: ${f.workdirError}`, failure: 'WN_Resource' }, attributes };
  }
  const space = `${formatBytes(f.freeBytes)} free in ${f.workdir}`;
  if (!f.tmpWritable) {
    return { result: { name: 'disk', status: 'fail', value: f.freeBytes, required, detail: `Cannot create a dir in ${f.tmpDir}: ${f.tmpError}; ${space}`, failure: 'WN_Resource' }, attributes };
  }
  if (required !== null && f.freeBytes < required) {
    return { result: { name: 'disk', status: 'fail', value: f.freeBytes, required, detail: `${space}, ${formatBytes(required)} required`, failure: 'WN_Resource' }, attributes };
  }
  if (required === null && f.freeBytes < DEFAULT_MIN_DISK) {
    return { result: { name: 'disk', status: 'warn', value: f.freeBytes, required, detail: `${space}, below the usual 1 GB minimum; ${f.tmpDir} writable`, failure: null }, attributes };
  }
  return { result: { name: 'disk', status: 'pass', value: f.freeBytes, required, detail: `${space}; ${f.tmpDir} writable`, failure: null }, attributes };
}

export const disk = defineValidator<DiskFacts>({
  name: 'disk',
  deadlineMs: 2000,
  probeTimeoutMs: 0,
  // A missing /tmp is a failure whatever was asked, so a stuck statfs must count as one too.
  isRequired: () => true,
  collect: (ctx) => collectDiskFacts(ctx.host, ctx.workdir),
  check: checkDisk,
});
