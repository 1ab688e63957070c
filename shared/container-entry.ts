// Container fields of the contract (DESIGN.md section 5, turn-3 additions; issue 22): the factory
// entry's / bundle's `container` {mode, defaultImage} and the job spec's `container` {image, binds}.
// Checked from untrusted JSON; a bad field is an error naming it (the caller gives the code).
import { GlideinError, type ErrorCode } from './errors.ts';

/** GlideinWMS's GLIDEIN_Singularity_Use meanings: never (no containers), optional (only when the
 * job names an image), preferred (the default image when the job names none, bare where no
 * runtime works), required (every job in a container; a job with no image and no default is held). */
export type ContainerMode = 'never' | 'optional' | 'preferred' | 'required';
export const CONTAINER_MODES: readonly ContainerMode[] = ['never', 'optional', 'preferred', 'required'];

export interface ContainerEntry {
  readonly mode: ContainerMode;
  readonly defaultImage: string | null;
}

/** One bind: host path, path inside, read-only or not. */
export interface BindSpec {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface JobContainer {
  readonly image: string | null;
  readonly binds: readonly BindSpec[];
}

/** With no entry field: a job that names an image runs in it, any other runs bare. */
export const DEFAULT_CONTAINER_ENTRY: ContainerEntry = { mode: 'optional', defaultImage: null };

const MAX_PATH = 4096;
const MAX_BINDS = 64;

function fail(code: ErrorCode, where: string, field: string, expected: string): never {
  throw new GlideinError(code, `${where}: field '${field}' ${expected}`, { details: { field } });
}

function isPath(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('/') && v.length <= MAX_PATH && !v.includes('\0') && !v.includes(':');
}

/** An image: an absolute path to an unpacked directory tree or a .sif file (no docker:// URLs).
 * A ':' is allowed: the OSG layout names images by tag (`…/opensciencegrid/osgvo-el9:latest`). */
export function isImagePath(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('/') && v.length <= MAX_PATH && !/[\u0000-\u001f]/.test(v);
}

/** `/host`, `/host:/inside` or `/host:/inside:ro|rw` (Apptainer's --bind syntax). */
export function parseBind(text: string): BindSpec | null {
  if (typeof text !== 'string' || text.length > 2 * MAX_PATH + 3 || /[\u0000-\u001f,]/.test(text)) return null;
  const parts = text.split(':');
  if (parts.length > 3) return null;
  const [source, target = source, opt = 'rw'] = parts;
  if (!isPath(source) || !isPath(target) || (opt !== 'ro' && opt !== 'rw')) return null;
  return { source: source!, target: target!, readOnly: opt === 'ro' };
}

export function formatBind(b: BindSpec): string {
  return `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`;
}

/** Bundle / factory entry field `container`; undefined or null: the default (optional, no image). */
export function parseContainerEntry(value: unknown, code: ErrorCode, where: string): ContainerEntry {
  if (value === undefined || value === null) return DEFAULT_CONTAINER_ENTRY;
  if (typeof value !== 'object' || Array.isArray(value)) fail(code, where, 'container', 'must be an object {"mode", "defaultImage"}');
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (k !== 'mode' && k !== 'defaultImage') fail(code, where, `container.${k}`, 'is not a container field (mode, defaultImage)');
  const mode = raw['mode'] ?? 'optional';
  if (!CONTAINER_MODES.includes(mode as ContainerMode)) fail(code, where, 'container.mode', `must be one of ${CONTAINER_MODES.join(', ')}`);
  const img = raw['defaultImage'] ?? null;
  if (img !== null && !isImagePath(img)) fail(code, where, 'container.defaultImage', "must be an absolute path (a directory image or a .sif file)");
  return { mode: mode as ContainerMode, defaultImage: img as string | null };
}

/** Job spec field `container`; undefined or null: the job names no image. */
export function parseJobContainer(value: unknown, code: ErrorCode, where: string): JobContainer | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) fail(code, where, 'container', 'must be an object {"image", "binds"}');
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (k !== 'image' && k !== 'binds') fail(code, where, `container.${k}`, 'is not a container field (image, binds)');
  const image = raw['image'] ?? null;
  if (image !== null && !isImagePath(image)) fail(code, where, 'container.image', "must be an absolute path (a directory image or a .sif file)");
  const bindsRaw = raw['binds'] ?? [];
  if (!Array.isArray(bindsRaw) || bindsRaw.length > MAX_BINDS) fail(code, where, 'container.binds', `must be an array of at most ${MAX_BINDS} "/host[:/inside[:ro]]" strings`);
  const binds = bindsRaw.map((b: unknown, i: number) => {
    const parsed = typeof b === 'string' ? parseBind(b) : null;
    if (!parsed) fail(code, where, `container.binds[${i}]`, 'must be "/host", "/host:/inside" or "/host:/inside:ro" (absolute paths)');
    return parsed;
  });
  return { image: image as string | null, binds };
}
