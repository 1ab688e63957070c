// Loading the pilot bundle (DESIGN.md section 9): a secret-bearing file shipped with the pilot.
// It must be a regular file we own with no group/other bits, well formed and not expired.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { GlideinError, errnoCode } from '../../shared/errors.ts';
import { parseBundle, type Bundle } from '../../shared/protocol.ts';

const MAX_BUNDLE_BYTES = 256 * 1024;

function bundleError(path: string, message: string, cause?: unknown): GlideinError {
  return new GlideinError('GLIDEIN_ERR_BUNDLE', `bundle ${path}: ${message}`, cause === undefined ? {} : { cause });
}

/** Marker left in a bundle whose refresh token moved into a pilot's store (bundle-scrub.ts). */
export const SCRUBBED_MARKER = 'refresh_token_moved_at';

/** Read the bundle file safely; throws GLIDEIN_ERR_BUNDLE (exit 2) naming the problem. */
export function loadBundle(path: string, nowSeconds: number = Math.floor(Date.now() / 1000)): Bundle {
  const json = readBundleJson(path);
  if (json !== null && typeof json === 'object' && (json as Record<string, unknown>)['refresh_token'] === undefined && SCRUBBED_MARKER in json) {
    const at = (json as Record<string, unknown>)[SCRUBBED_MARKER];
    throw bundleError(path, `was already used by a pilot (its refresh token moved into that pilot's credential store${typeof at === 'number' ? ` at ${new Date(at * 1000).toISOString()}` : ''}); a bundle starts one pilot`);
  }
  const bundle = parseBundle(json, `bundle ${path}`);
  if (bundle.expiresAt <= nowSeconds) {
    throw bundleError(path, `expired at ${new Date(bundle.expiresAt * 1000).toISOString()}`);
  }
  return bundle;
}

/** The bundle file's JSON: a regular file we own, no group/other bits, bounded size. */
export function readBundleJson(path: string): unknown {
  let lst;
  try {
    lst = lstatSync(path);
  } catch (e) {
    throw bundleError(path, errnoCode(e) === 'ENOENT' ? 'no such file' : `cannot stat (${errnoCode(e) ?? String(e)})`, e);
  }
  if (lst.isSymbolicLink()) throw bundleError(path, 'is a symbolic link; expected a regular file');
  if (!lst.isFile()) throw bundleError(path, 'is not a regular file');
  let fd: number;
  try {
    // O_NOFOLLOW closes the window between lstat and open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw bundleError(path, `cannot open (${errnoCode(e) ?? String(e)})`, e);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== lst.ino || st.dev !== lst.dev) throw bundleError(path, 'changed while being opened');
    const uid = process.geteuid?.();
    if (uid !== undefined && st.uid !== uid) throw bundleError(path, `is owned by uid ${st.uid}, not by this pilot (uid ${uid})`);
    if ((st.mode & 0o077) !== 0) {
      throw bundleError(path, `is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); expected 0600`);
    }
    if (st.size > MAX_BUNDLE_BYTES) throw bundleError(path, `is larger than ${MAX_BUNDLE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    text = buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bundleError(path, 'is not valid JSON', e);
  }
}

/** The URL of a protocol endpoint, from the bundle's refresh_url (a base URL or the refresh endpoint itself). */
export function endpointUrl(refreshUrl: string, path: string): string {
  const u = new URL(refreshUrl);
  let base = u.pathname.replace(/\/+$/, '');
  if (base.endsWith('/v1/refresh')) base = base.slice(0, -'/v1/refresh'.length);
  return `${u.origin}${base}${path}`;
}
