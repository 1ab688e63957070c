// os: distribution and version, kernel, architecture, glibc. Informational: it never fails, and
// warns only when the distribution cannot be read or glibc is older than the executable needs.
import { collectOsFacts, type OsFacts } from '../validate/facts/os.ts';
import { defineValidator } from '../validate/validator.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

/** dist/glidein is built to need no glibc newer than this (scripts/build.mjs). */
const MIN_GLIBC = [2, 28];

function olderThan(version: string, min: number[]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a < min[0]! || (a === min[0] && b < min[1]!);
}

export function checkOs(f: OsFacts, _req: Requirements): CheckOutcome {
  const name = f.distribution === null ? 'unknown' : `${f.distribution} ${f.versionId ?? ''}`.trim();
  const parts = [f.prettyName ?? 'no os-release', `kernel ${f.kernel ?? 'unknown'}`, f.arch, `glibc ${f.glibc ?? 'unknown'}`];
  let status: 'pass' | 'warn' = 'pass';
  if (f.distribution === null) status = 'warn';
  if (f.glibc !== null && olderThan(f.glibc, MIN_GLIBC)) {
    status = 'warn';
    parts.push(`glibc older than ${MIN_GLIBC.join('.')}`);
  }
  return {
    result: { name: 'os', status, value: name, required: null, detail: parts.join(', '), failure: null },
    attributes: { GLIDEIN_OS_DISTRO: name, GLIDEIN_ARCH: f.arch, ...(f.glibc ? { GLIDEIN_GLIBC_VERSION: f.glibc } : {}) },
  };
}

export const os = defineValidator<OsFacts>({
  name: 'os',
  deadlineMs: 2000,
  probeTimeoutMs: 0,
  isRequired: () => false,
  collect: (ctx) => collectOsFacts(ctx.host),
  check: checkOs,
});
