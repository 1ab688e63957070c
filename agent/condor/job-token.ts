// Where an HTCondor job's identity token is (issue 14 item 4; issue 21 item 2). Only facts the
// starter vouches for count: its scratch dir (`_CONDOR_SCRATCH_DIR`, which the starter sets; the
// job's own environment never reaches the wrapper, see job-env.ts) and whether the job ad asks
// for OAuth services (then, and only then, the starter made `<scratch>/.condor_creds`, one
// `<service>.use` per service). `_CONDOR_CREDS` from an environment is never read: a job set it
// to another job's creds dir and ran as that job's user. Every step is descriptor-relative and
// follows no symlink; the scratch dir, the creds dir and the token must belong to the pilot
// (the starter made them), and the token must have one link. The policy's `condorTokenFile`
// names the file (in .condor_creds, then the scratch dir); without it the one `*.use` file of
// .condor_creds is taken (several are ambiguous: a permanent error).
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';
import { launchError, type LaunchError } from '../sandbox/launch-error.ts';
import { resolveIdentity, type Policy } from '../sandbox/index.ts';
import type { Account } from '../sandbox/account.ts';

const MAX_TOKEN_BYTES = 16 * 1024;
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

/** What the starter vouches for; the hook and the wrapper pass the same facts. */
export interface TokenSource {
  /** The starter's scratch dir (`_CONDOR_SCRATCH_DIR`). */
  scratchDir: string | undefined;
  /** The trusted job ad has OAuthServicesNeeded (the starter made .condor_creds). */
  oauth: boolean;
  /** The policy's condorTokenFile: one file name, no '/'. */
  fileName: string | null;
}

export interface FoundToken {
  token: string;
  path: string;
}

const refuse = (message: string): LaunchError => launchError('identity', 'NO_IDENTITY', message, true);

/** Open a directory the pilot owns, without following a symlink; a LaunchError says why not. */
function openOwnDir(path: string, what: string, open: string = path): number | LaunchError {
  let fd: number;
  try {
    fd = openSync(open, OPEN_DIR);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ELOOP' || code === 'ENOTDIR') return refuse(`${what} ${path} is not a directory (a symbolic link or a file); it is not followed`);
    return launchError('identity', code ?? 'EIO', `cannot open ${what} ${path}: ${(e as Error).message}`, code === 'ENOENT');
  }
  const st = fstatSync(fd);
  if (st.uid !== process.geteuid?.()) {
    closeSync(fd);
    return refuse(`${what} ${path} belongs to uid ${st.uid}, not to the pilot (uid ${process.geteuid?.()}) that the starter runs as`);
  }
  return fd;
}

/** The token in `name` of the open directory `dir` (shown as `path`); null when there is none. */
function readToken(dir: number, name: string, path: string): string | null | LaunchError {
  let fd: number;
  try {
    fd = openSync(at(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') return refuse(`the job's token file ${path} is a symbolic link; it is not followed`);
    return launchError('identity', code ?? 'EIO', `cannot read the job's token file ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return refuse(`the job's token file ${path} is not a regular file`);
    if (st.uid !== process.geteuid?.()) return refuse(`the job's token file ${path} belongs to uid ${st.uid}, not to the pilot that the starter writes it as`);
    if (st.nlink !== 1) return refuse(`the job's token file ${path} has ${st.nlink} hard links; a token the starter wrote has one`);
    if (st.size > MAX_TOKEN_BYTES) return refuse(`the job's token file ${path} is larger than ${MAX_TOKEN_BYTES} bytes`);
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
    if (text.length === 0 || /\s/.test(text)) return refuse(`the job's token file ${path} does not hold one JWT`);
    return text;
  } finally {
    closeSync(fd);
  }
}

/** The one *.use token of the open creds dir when the policy names no file. */
function onlyUseFile(creds: number, credsPath: string): string | LaunchError {
  let names: string[];
  try {
    names = readdirSync(at(creds, '.')).filter((n) => n.endsWith('.use') && !n.startsWith('.'));
  } catch (e) {
    return refuse(`cannot list the job's credential directory ${credsPath}: ${errnoCode(e) ?? String(e)}`);
  }
  if (names.length === 0) return refuse(`the job's credential directory ${credsPath} holds no *.use token`);
  if (names.length > 1) return refuse(`the job's credential directory holds ${names.length} tokens (${names.sort().join(', ')}); the policy's condorTokenFile must say which is the identity`);
  return names[0]!;
}

function search(s: TokenSource, scratch: number, scratchDir: string): FoundToken | LaunchError {
  const looked: string[] = [];
  if (s.oauth) {
    const credsPath = join(scratchDir, '.condor_creds');
    const creds = openOwnDir(credsPath, "the job's credential directory", at(scratch, '.condor_creds'));
    if (typeof creds !== 'number') return creds;
    try {
      const name = s.fileName ?? onlyUseFile(creds, credsPath);
      if (typeof name !== 'string') return name;
      const t = readToken(creds, name, join(credsPath, name));
      if (typeof t === 'string') return { token: t, path: join(credsPath, name) };
      if (t !== null) return t;
      looked.push(join(credsPath, name));
    } finally {
      closeSync(creds);
    }
  } else if (s.fileName === null) {
    return refuse('the job carries no identity token: its ad asks for no OAuth services (submit with use_oauth_services), so the starter made no .condor_creds, and the policy names no condorTokenFile; a .condor_creds the job brought itself is not used');
  }
  if (s.fileName !== null) {
    const path = join(scratchDir, s.fileName);
    const t = readToken(scratch, s.fileName, path);
    if (typeof t === 'string') return { token: t, path };
    if (t !== null) return t;
    looked.push(path);
  }
  return refuse(`the job carries no identity token (looked for ${looked.join(', ')})`);
}

/** The job's identity token, or a launch error saying why there is none. */
export function findJobToken(s: TokenSource): FoundToken | LaunchError {
  const dir = s.scratchDir;
  if (!dir || !dir.startsWith('/')) return launchError('identity', 'NO_SCRATCH', "the starter set no absolute _CONDOR_SCRATCH_DIR: the job's scratch dir is unknown", false);
  const scratch = openOwnDir(dir, "the job's scratch dir");
  if (typeof scratch !== 'number') return scratch;
  try {
    return search(s, scratch, dir);
  } finally {
    closeSync(scratch);
  }
}

/**
 * The job's identity as this node maps it: its token found, verified and mapped with the site
 * policy. The job wrapper and the prepare-job hook both decide with this one function, on the
 * same starter facts, so the hook holds exactly the jobs the wrapper would turn away.
 */
export async function identifyJob(s: TokenSource, policy: Policy): Promise<{ token: string; path: string; account: Account | null } | LaunchError> {
  const found = findJobToken(s);
  if ('stage' in found) return found;
  const who = await resolveIdentity(found.token, policy);
  return who.ok ? { token: found.token, path: found.path, account: who.account } : who.error;
}
