// SIZE values of `--require memory=SIZE` / `disk=SIZE`: a number and a unit, decimal (kB, MB,
// GB, TB: powers of 1000) or binary (KiB, MiB, GiB, TiB: powers of 1024), as in `512MiB`, `8GiB`,
// `2GB`. A bare number is refused: MB-or-bytes guesses are how pilots land on the wrong nodes.
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

export const SIZE_EXPECTED = 'a size with a unit such as 512MiB, 8GiB or 2GB (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)';

/** Bytes, or null when `text` is not a SIZE. */
export function parseSize(text: string): number | null {
  const m = /^(\d{1,15}(?:\.\d{1,6})?)\s*([a-zA-Z]{1,3})$/.exec(text.trim());
  if (!m) return null;
  const scale = UNITS[m[2]!.toLowerCase()];
  if (scale === undefined) return null;
  const bytes = Math.round(Number(m[1]) * scale);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** A human size in binary units: `7.8 GiB`, `512 MiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 || v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  return `${text} ${units[i]}`;
}
