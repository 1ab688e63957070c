// The wrapper (`glidein wrapper SOCKET`): started by the agent under the target identity (or as
// root in setuid mode), it reads the channel secret on stdin, proves itself on the spec channel
// with it, reads the wrapper spec, switches identity, places the job's credentials, opens the
// job's stdio files as the account, cleans the environment, sets cwd and umask, and replaces
// itself with the payload. Any failure after the spec arrived is one record on the channel.
import { isPurpose } from '../../shared/credential.ts';
import { connect, type Socket } from 'node:net';
import { writeSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { atomicWriteFile } from '../store/index.ts';
import { GlideinError, errnoCode } from '../../shared/errors.ts';
import { MAX_SPEC_BYTES, readChannelSecret, type WrapperSpec } from './channel.ts';
import { placePayloadStdio } from './stdio.ts';
import { launchError, type LaunchError } from './launch-error.ts';
import { preflightExec } from './preflight.ts';
import { startInContainer } from './wrapper-container.ts';
import { INSIDE_CREDENTIALS } from './container-runtime.ts';

class WrapperFailure extends Error {
  readonly record: LaunchError;
  constructor(record: LaunchError) {
    super(record.message);
    this.record = record;
  }
}

function failWith(stage: string, code: string, message: string, permanent?: boolean): never {
  throw new WrapperFailure(launchError(stage, code, message, permanent));
}

function readSpec(sock: Socket): Promise<WrapperSpec> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new WrapperFailure(launchError('wrapper', 'ETIMEDOUT', 'no job spec from the agent within 30 s', false))), 30_000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_SPEC_BYTES) {
        clearTimeout(timer);
        reject(new WrapperFailure(launchError('wrapper', 'BAD_SPEC', 'wrapper spec too large', true)));
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      sock.pause();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as WrapperSpec);
      } catch {
        reject(new WrapperFailure(launchError('wrapper', 'BAD_SPEC', 'wrapper spec is not JSON', true)));
      }
    });
    sock.on('end', () => {
      clearTimeout(timer);
      reject(new WrapperFailure(launchError('wrapper', 'EPIPE', 'the agent closed the channel before sending the spec', false)));
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** setuid mode: become the account for good, and prove root cannot be regained. */
function dropPrivileges(spec: WrapperSpec): void {
  const user = spec.user;
  if (!user) failWith('identity', 'BAD_SPEC', 'setuid mode without a target account', true);
  if (user.uid === 0) failWith('identity', 'ROOT_REFUSED', 'refusing to run a payload as root', true);
  if (process.getuid!() !== 0) failWith('identity', 'NOT_ROOT', `setuid mode needs the wrapper to start as root; it runs as uid ${process.getuid!()}`, true);
  try {
    (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(user.name, user.gid);
    process.setgid!(user.gid);
    process.setuid!(user.uid);
  } catch (e) {
    failWith('identity', errnoCode(e) ?? 'EPERM', `cannot switch to ${user.name} (uid ${user.uid}): ${(e as Error).message}`);
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    /* expected: no way back */
  }
  if (regained || process.geteuid!() !== user.uid || process.getuid!() !== user.uid || process.getegid!() !== user.gid || process.getgid!() !== user.gid) {
    failWith('identity', 'CAN_REGAIN_ROOT', `after switching to ${user.name} the process could regain root or kept another identity; refusing to run`, true);
  }
}

async function placeCredentials(spec: WrapperSpec): Promise<string | null> {
  if (!spec.credentials || spec.credentials.length === 0) return null;
  let dir: string;
  try {
    dir = mkdtempSync(join(realpathSync(tmpdir()), `glidein-job-${spec.jobId}-`));
  } catch (e) {
    failWith('credentials', errnoCode(e) ?? 'EIO', `cannot create the job's credential directory: ${(e as Error).message}`);
  }
  let bearer: string | null = null;
  for (const c of spec.credentials) {
    if (!isPurpose(c.name)) failWith('credentials', 'BAD_SPEC', `bad credential name ${JSON.stringify(c.name)}`, true);
    const path = join(dir, c.name);
    try {
      await atomicWriteFile(path, c.data, { mode: 0o600 });
    } catch (e) {
      failWith('credentials', errnoCode(e) ?? 'EIO', `cannot write credential ${c.name}: ${(e as Error).message}`);
    }
    if (c.name === spec.bearerName) bearer = path;
  }
  return bearer;
}

/** Send the record and resolve once it is out: the entry point exits right after (process.exit). */
function sendRecord(sock: Socket, rec: LaunchError): Promise<void> {
  let rest = Buffer.from(JSON.stringify(rec) + '\n', 'utf8');
  // Written synchronously on the socket's own descriptor where possible.
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd === 'number' && fd >= 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch {
      /* EAGAIN and the like: the stream sends it */
    }
  }
  if (rest.length === 0) return Promise.resolve();
  // Through the stream: wait for the flush, or the record is lost when the process exits.
  return new Promise((resolve) => {
    sock.once('error', () => resolve());
    sock.end(rest, () => resolve());
  });
}

/** Run the wrapper. Returns an exit code only when it could not exec (the record was sent). */
export async function runWrapper(socketPath: string): Promise<number> {
  // Warnings would land in the payload's stderr file.
  process.removeAllListeners('warning');
  // Node ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across execve, a caught
  // one goes back to its default. Catch them so the payload gets the usual dispositions.
  process.on('SIGPIPE', () => undefined);
  process.on('SIGXFSZ', () => undefined);

  const secret = readChannelSecret();
  if (secret === null) {
    process.stderr.write('glidein wrapper: no channel secret on stdin (does the helper pass stdin through?)\n');
    return 126;
  }
  const sock = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (e) =>
      reject(new GlideinError('GLIDEIN_ERR_LAUNCH', `wrapper: cannot reach the agent's socket ${socketPath}: ${errnoCode(e) ?? e.message}`, { cause: e })));
  });
  sock.write(`${secret}\n`);
  try {
    const spec = await readSpec(sock);
    if (spec.v !== 1 || typeof spec.executable !== 'string' || !Array.isArray(spec.argv)) failWith('wrapper', 'BAD_SPEC', 'unknown wrapper spec version', true);
    if (spec.mode === 'setuid') dropPrivileges(spec);
    else if (spec.mode === 'helper' && spec.user && process.getuid!() !== spec.user.uid) {
      failWith('identity', 'WRONG_IDENTITY', `the helper started the wrapper as uid ${process.getuid!()}, expected ${spec.user.name} (uid ${spec.user.uid})`, true);
    }
    if (process.getuid!() === 0 && spec.mode !== 'none') failWith('identity', 'ROOT_REFUSED', 'refusing to run a payload as root', true);
    // Group root (primary or supplementary, e.g. from /etc/group through initgroups) is root's files too.
    if (spec.mode !== 'none' && (process.getgid!() === 0 || process.getgroups!().includes(0))) {
      failWith('identity', 'ROOT_REFUSED', `refusing to run a payload with group root (gid 0) among its groups (${process.getgroups!().join(',')})`, true);
    }

    const env = { ...spec.env };
    const bearer = await placeCredentials(spec);
    // In a container the token is seen at its inside path (the agent's own: already in env).
    if (bearer) env['BEARER_TOKEN_FILE'] = spec.container ? `${INSIDE_CREDENTIALS}/${basename(bearer)}` : bearer;
    // Opened here, as the account, with the account's rights only (issue 11, items 1 and 4).
    const stdioError = spec.stdio ? placePayloadStdio(spec.stdio) : null;
    if (stdioError) throw new WrapperFailure(stdioError);

    try {
      process.chdir(spec.cwd);
    } catch (e) {
      failWith('cwd', errnoCode(e) ?? 'EIO', `cannot enter the working directory ${spec.cwd}: ${(e as Error).message}`);
    }
    process.umask(spec.umask);
    if (spec.container) {
      const credentialDir = spec.container.credentialDir ?? (bearer ? dirname(bearer) : null);
      const r = await startInContainer({ c: spec.container, workdir: spec.cwd, credentialDir, env, argv: spec.argv, started: () => sock.end() });
      if ('exitCode' in r) return r.exitCode;
      throw new WrapperFailure(r);
    }
    const pre = preflightExec(spec.executable);
    if (!pre.ok) failWith('exec', pre.code, pre.message);
    process.execve!(spec.executable, spec.argv, env);
  } catch (e) {
    const rec = e instanceof WrapperFailure ? e.record : launchError('wrapper', errnoCode(e) ?? 'EINTERNAL', `wrapper failed: ${(e as Error).message ?? String(e)}`, false);
    await sendRecord(sock, rec);
    sock.destroy();
    return 127;
  }
  return 127;
}
