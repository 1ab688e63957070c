// `@include PATH` in a mapfile, as HTCondor 25.14's MapFile reads it: a relative PATH is taken
// from the including file's directory; a directory includes each of its files that is not a
// directory and whose name the default LOCAL_CONFIG_DIR_EXCLUDE_REGEXP does not exclude, sorted
// by path; an included file's own @include lines are skipped (HTCondor allows no nesting); a
// file or directory that cannot be read is skipped with a warning, and the rest still applies.
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { readFileSafely } from '../../shared/safe-open.ts';
import { parseField, mapfileLines } from './mapfile-fields.ts';

/** A mapfile of a large VO is a few thousand lines; 4 MiB leaves room and still bounds the read. */
export const MAX_MAPFILE_BYTES = 4 * 1024 * 1024;

/** HTCondor's default LOCAL_CONFIG_DIR_EXCLUDE_REGEXP, on the file's name. */
const EXCLUDED = /^((\..*)|(.*\.pl)|(.*\.py)|(.*\.sh)|(.*~)|(#.*)|(.*\.rpmsave)|(.*\.rpmnew)|(.*\.dpkg-old)|(.*\.dpkg-dist)|(.*\.cfsaved))$/;

export type IncludedFile = { readonly path: string; readonly text: string } | { readonly path: string; readonly error: string };
/** What one @include line brings: its files in order, or why none. */
export type Included = { readonly files: readonly IncludedFile[] } | { readonly error: string };

/** The path an @include line names, resolved as HTCondor does; null when the line is not one or names nothing. */
export function includeTarget(line: string, from: string): string | null {
  const method = parseField(line, 0, false);
  if (method.text !== '@include') return null;
  const path = parseField(line, method.next, false).text;
  if (path === '') return null;
  return isAbsolute(path) ? path : join(dirname(from), path);
}

/** A mapfile's bytes as a latin1 string (HTCondor reads bytes). */
export async function readMapfileText(path: string): Promise<string> {
  return (await readFileSafely(path, { code: 'GLIDEIN_ERR_POLICY', what: 'mapfile', maxBytes: MAX_MAPFILE_BYTES })).toString('latin1');
}

async function readOne(path: string): Promise<IncludedFile> {
  try {
    return { path, text: await readMapfileText(path) };
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}

async function include(target: string): Promise<Included> {
  const st = await stat(target).catch(() => null);
  if (!st?.isDirectory()) return { files: [await readOne(target)] };
  let names: string[];
  try {
    names = await readdir(target);
  } catch (e) {
    return { error: `could not include the directory ${target} (${(e as Error).message})` };
  }
  const paths: string[] = [];
  for (const name of names) {
    if (EXCLUDED.test(name)) continue;
    const p = join(target, name);
    if ((await stat(p).catch(() => null))?.isDirectory()) continue;
    paths.push(p);
  }
  paths.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { files: await Promise.all(paths.map(readOne)) };
}

/** Every file the @include lines of `text` (the mapfile at `path`) bring, by resolved path. */
export async function readIncludes(text: string, path: string): Promise<Map<string, Included>> {
  const out = new Map<string, Included>();
  for (const line of mapfileLines(text)) {
    const target = includeTarget(line, path);
    if (target !== null && !out.has(target)) out.set(target, await include(target));
  }
  return out;
}
