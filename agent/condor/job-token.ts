// Where an HTCondor job's identity token is (issue 14, item 4): HTCondor's per-job credential
// directory (`_CONDOR_CREDS`, one `<service>.use` file per OAuth service), or a token file the
// job ships in its scratch dir. The policy's `condorTokenFile` names the file; without it the
// one `*.use` file of _CONDOR_CREDS is taken (several are ambiguous: a permanent error).
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { resolveIdentity, type Policy } from '../sandbox/index.ts';
import type { Account } from '../sandbox/account.ts';

const MAX_TOKEN_BYTES = 16 * 1024;

export interface TokenSource {
  /** `_CONDOR_CREDS` of the job's environment, if any. */
  credsDir: string | undefined;
  /** `_CONDOR_SCRATCH_DIR` (where transferred input files land). */
  scratchDir: string | undefined;
  /** The policy's condorTokenFile: one file name, no '/'. */
  fileName: string | null;
}

export interface FoundToken {
  token: string;
  path: string;
}

function readToken(path: string): string | LaunchError {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return launchError('identity', errnoCode(e) ?? 'EIO', `cannot read the job's token file ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return launchError('identity', 'NO_IDENTITY', `the job's token file ${path} is not a regular file`, true);
    if (st.size > MAX_TOKEN_BYTES) return launchError('identity', 'NO_IDENTITY', `the job's token file ${path} is larger than ${MAX_TOKEN_BYTES} bytes`, true);
    const buf = Buffer.alloc(st.size);
    const n = st.size === 0 ? 0 : readSync(fd, buf, 0, st.size, 0);
    // Credmon's .use files may hold a JSON access-token response; a plain file holds the JWT.
    const text = buf.subarray(0, n).toString('utf8').trim();
    if (text.startsWith('{')) {
      try {
        const t = (JSON.parse(text) as { access_token?: unknown }).access_token;
        if (typeof t === 'string') return t;
      } catch {
        /* not JSON after all */
      }
    }
    return text;
  } finally {
    closeSync(fd);
  }
}

function candidates(s: TokenSource): string[] | LaunchError {
  if (s.fileName !== null) {
    return [s.credsDir, s.scratchDir].filter((d): d is string => typeof d === 'string' && d.startsWith('/')).map((d) => join(d, s.fileName!));
  }
  if (!s.credsDir) return launchError('identity', 'NO_IDENTITY', 'the job carries no identity token: no _CONDOR_CREDS directory (submit with use_oauth_services) and the policy names no condorTokenFile', true);
  let names: string[];
  try {
    names = readdirSync(s.credsDir).filter((n) => n.endsWith('.use') && !n.startsWith('.'));
  } catch (e) {
    return launchError('identity', 'NO_IDENTITY', `cannot list the job's credential directory ${s.credsDir}: ${errnoCode(e) ?? String(e)}`, true);
  }
  if (names.length === 0) return launchError('identity', 'NO_IDENTITY', `the job's credential directory ${s.credsDir} holds no *.use token`, true);
  if (names.length > 1) return launchError('identity', 'NO_IDENTITY', `the job's credential directory holds ${names.length} tokens (${names.sort().join(', ')}); the policy's condorTokenFile must say which is the identity`, true);
  return [join(s.credsDir, names[0]!)];
}

/** The job's identity token, or a permanent launch error saying why there is none. */
export function findJobToken(s: TokenSource): FoundToken | LaunchError {
  const paths = candidates(s);
  if (!Array.isArray(paths)) return paths;
  for (const path of paths) {
    const t = readToken(path);
    if (typeof t === 'string') {
      if (t.length === 0 || /\s/.test(t)) return launchError('identity', 'NO_IDENTITY', `the job's token file ${path} does not hold one JWT`, true);
      return { token: t, path };
    }
    if (t.code !== 'ENOENT') return t;
  }
  return launchError('identity', 'NO_IDENTITY', `the job carries no identity token (looked for ${paths.join(', ')})`, true);
}

/**
 * The job's identity as this node maps it: its token found, verified and mapped with the site
 * policy. The job wrapper and the prepare-job hook both decide with this, so the hook holds
 * exactly the jobs the wrapper would turn away for their identity.
 */
export async function identifyJob(s: TokenSource, policy: Policy): Promise<{ token: string; account: Account | null } | LaunchError> {
  const found = findJobToken(s);
  if ('stage' in found) return found;
  const who = await resolveIdentity(found.token, policy);
  return who.ok ? { token: found.token, account: who.account } : who.error;
}
