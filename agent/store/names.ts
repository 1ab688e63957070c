// Name checks for the credential store: a credential or job name becomes one path component
// under cred.d/, so nothing a caller passes may leave the store or hide among temp files.
import { GlideinError } from '../../shared/errors.ts';

export type NameKind = 'credential' | 'job';

export const MAX_NAME_LENGTH = 128;

// Control characters (NUL included) would make log lines and file listings lie.
const CONTROL = /[\u0000-\u001f\u007f]/;

function describe(name: string): string {
  return JSON.stringify(name.length > 40 ? name.slice(0, 40) + '…' : name);
}

/**
 * Check that `name` is safe as one path component of the store and return it.
 * Rejected: empty, longer than 128 characters, containing '/' or a control character (NUL
 * included), or starting with '.' (covers '.' and '..', and keeps names apart from the store's
 * own temp files, which all start with '.'). Throws GLIDEIN_ERR_STORE_NAME naming the problem.
 */
export function checkName(kind: NameKind, name: string): string {
  const fail = (problem: string): never => {
    throw new GlideinError('GLIDEIN_ERR_STORE_NAME', `${kind} name ${describe(String(name))} ${problem}`, {
      details: { kind },
    });
  };
  if (typeof name !== 'string') return fail('is not a string');
  if (name.length === 0) return fail('is empty');
  if (name.length > MAX_NAME_LENGTH) return fail(`is longer than ${MAX_NAME_LENGTH} characters`);
  if (name.includes('/')) return fail("contains '/'");
  if (name.includes('\u0000')) return fail('contains a NUL byte');
  if (CONTROL.test(name)) return fail('contains a control character');
  if (name.startsWith('.')) return fail("starts with '.' (would be '.', '..' or a hidden/temp file)");
  return name;
}
