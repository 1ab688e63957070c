// The site policy's `containers` key (DESIGN.md section 5, turn-3 additions; issue 22): which
// runtime, which image roots are allowed, the binds the site forces and those it forbids, and
// the image validation runs /bin/true in. Checked from untrusted JSON in one place.
import { GlideinError } from '../../shared/errors.ts';
import { isImagePath, parseBind, type BindSpec } from '../../shared/container-entry.ts';

export type RuntimeChoice = 'auto' | 'apptainer' | 'singularity' | 'bwrap';
const RUNTIMES: readonly RuntimeChoice[] = ['auto', 'apptainer', 'singularity', 'bwrap'];

export interface ContainerPolicy {
  readonly runtime: RuntimeChoice;
  /** Prefixes an image's real path must lie under; null: any image (the key is absent). */
  readonly allowedImageRoots: readonly string[] | null;
  /** Bound into every container when the host path exists (e.g. /cvmfs). */
  readonly binds: readonly BindSpec[];
  /** Host paths no bind may expose: the path itself, anything under it, or any parent of it. */
  readonly forbiddenBinds: readonly string[];
  readonly testImage: string | null;
}

export const DEFAULT_CONTAINER_POLICY: ContainerPolicy = {
  runtime: 'auto',
  allowedImageRoots: null,
  binds: [{ source: '/cvmfs', target: '/cvmfs', readOnly: true }],
  forbiddenBinds: [],
  testImage: null,
};

const KNOWN = new Set(['runtime', 'allowedImageRoots', 'binds', 'forbiddenBinds', 'testImage']);

function fail(where: string, field: string, expected: string): never {
  throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}: field 'containers.${field}' ${expected}`, { details: { field: `containers.${field}` } });
}

function pathList(where: string, raw: Record<string, unknown>, field: string): string[] | null {
  const v = raw[field];
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length > 256 || v.some((p) => !isImagePath(p))) fail(where, field, 'must be a list of absolute paths');
  return [...(v as string[])];
}

export function parseContainerPolicy(value: unknown, where: string): ContainerPolicy {
  if (value === undefined || value === null) return DEFAULT_CONTAINER_POLICY;
  if (typeof value !== 'object' || Array.isArray(value)) throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}: field 'containers' must be an object`, { details: { field: 'containers' } });
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) fail(where, k, `is not a containers field (${[...KNOWN].join(', ')})`);
  const runtime = raw['runtime'] ?? 'auto';
  if (!RUNTIMES.includes(runtime as RuntimeChoice)) fail(where, 'runtime', `must be one of ${RUNTIMES.join(', ')}`);
  let binds = DEFAULT_CONTAINER_POLICY.binds;
  if (raw['binds'] !== undefined) {
    const b = raw['binds'];
    if (!Array.isArray(b) || b.length > 64) fail(where, 'binds', 'must be a list of "/host[:/inside[:ro]]" strings');
    binds = b.map((x: unknown, i: number) => parseBind(x as string) ?? fail(where, `binds[${i}]`, 'must be "/host", "/host:/inside" or "/host:/inside:ro"'));
  }
  const testImage = raw['testImage'] ?? null;
  if (testImage !== null && !isImagePath(testImage)) fail(where, 'testImage', 'must be an absolute path (an image)');
  return {
    runtime: runtime as RuntimeChoice,
    allowedImageRoots: pathList(where, raw, 'allowedImageRoots'),
    binds,
    forbiddenBinds: pathList(where, raw, 'forbiddenBinds') ?? [],
    testImage: testImage as string | null,
  };
}
