// The job spec (DESIGN.md section 5, contract): parsed from untrusted JSON with every field
// checked; a bad field is GLIDEIN_ERR_JOB_SPEC naming the field (exit 2).
import { GlideinError, isGlideinError } from '../../shared/errors.ts';
import { parseCredential, type Credential } from '../../shared/credential.ts';
import { parseJobContainer, type JobContainer } from '../../shared/container-entry.ts';

export interface JobSpec {
  readonly id: string;
  readonly executable: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | null;
  readonly stdin: string | null;
  readonly stdout: string | null;
  readonly stderr: string | null;
  readonly tty: boolean;
  readonly limits: { readonly wallclockSeconds: number | null };
  /** The identity JWT (iss + sub decide the account); null only in `none` mode. */
  readonly identity: string | null;
  readonly credentials: readonly Credential[];
  /** The image the job asks for and its own binds (issue 22); null: it names none. */
  readonly container: JobContainer | null;
  /** How many GPUs the job needs (issue 23); the pilot hands it that many of its own. */
  readonly gpus: number;
}

// A job id becomes a path component (cred.d/jobs/<id>) and a log field: no '/', no leading '.'.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A job id usable as a path component: 1-128 letters, digits, '.', '_', '-', no leading '.', no '..'. */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id) && !id.includes('..');
}
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const MAX_PATH = 4096;
const MAX_ARGS = 4096;
/** Total bytes of args and env: well under the kernel's ARG_MAX so execve never fails with E2BIG. */
const MAX_ARG_BYTES = 256 * 1024;
const MAX_ENV_BYTES = 256 * 1024;
const MAX_CREDENTIALS = 16;
const MAX_WALLCLOCK = 30 * 24 * 3600;
/** The largest job spec file read, by `glidein exec --job` and by the spool alike. */
export const MAX_JOB_SPEC_BYTES = 4 * 1024 * 1024;
/** Variables a job may not set: they would let it change how the sandbox's programs behave, or
 * (BEARER_TOKEN, which outranks BEARER_TOKEN_FILE in WLCG token discovery) which token its tools use. */
export const FORBIDDEN_JOB_ENV: ReadonlySet<string> = new Set(['LD_PRELOAD', 'LD_AUDIT', 'BEARER_TOKEN_FILE', 'BEARER_TOKEN']);
const KNOWN_FIELDS = new Set(['id', 'executable', 'args', 'env', 'cwd', 'stdin', 'stdout', 'stderr', 'tty', 'limits', 'identity', 'credentials', 'container', 'gpus']);
/** More GPUs than any node has: a typo, not a request. */
const MAX_GPUS = 64;

function fail(where: string, field: string, expected: string): never {
  throw new GlideinError('GLIDEIN_ERR_JOB_SPEC', `${where}: field '${field}' ${expected}`, { details: { field } });
}

function absolutePath(where: string, field: string, v: unknown, nullable: boolean): string | null {
  if ((v === null || v === undefined) && nullable) return null;
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > MAX_PATH || v.includes('\0')) {
    return fail(where, field, `must be an absolute path${nullable ? ' or null' : ''} (at most ${MAX_PATH} characters, no NUL)`);
  }
  return v;
}

/** Check a job spec from untrusted input; `where` names it in messages (a file path). */
export function parseJobSpec(value: unknown, where = 'job spec'): JobSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, '(root)', 'must be a JSON object');
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (!KNOWN_FIELDS.has(k)) fail(where, k, 'is not a job spec field');

  const id = raw['id'];
  if (!isJobId(id)) {
    fail(where, 'id', "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'");
  }
  const executable = absolutePath(where, 'executable', raw['executable'], false)!;

  const argsRaw = raw['args'] ?? [];
  if (!Array.isArray(argsRaw)) fail(where, 'args', 'must be an array of strings');
  if (argsRaw.length > MAX_ARGS) fail(where, 'args', `has ${argsRaw.length} entries; at most ${MAX_ARGS} allowed`);
  let argBytes = 0;
  const args = argsRaw.map((a: unknown, i: number) => {
    if (typeof a !== 'string' || a.includes('\0')) fail(where, `args[${i}]`, 'must be a string without NUL');
    argBytes += Buffer.byteLength(a) + 1;
    return a;
  });
  if (argBytes > MAX_ARG_BYTES) fail(where, 'args', `total ${argBytes} bytes; at most ${MAX_ARG_BYTES} allowed`);

  const envRaw = raw['env'] ?? {};
  if (envRaw === null || typeof envRaw !== 'object' || Array.isArray(envRaw)) fail(where, 'env', 'must be an object of strings');
  const env: Record<string, string> = {};
  let envBytes = 0;
  for (const [k, v] of Object.entries(envRaw as Record<string, unknown>)) {
    if (!ENV_NAME.test(k)) fail(where, `env.${k}`, 'is not a valid variable name');
    if (FORBIDDEN_JOB_ENV.has(k)) fail(where, `env.${k}`, 'may not be set by a job');
    if (typeof v !== 'string' || v.includes('\0')) fail(where, `env.${k}`, 'must be a string without NUL');
    envBytes += k.length + Buffer.byteLength(v) + 2;
    env[k] = v;
  }
  if (envBytes > MAX_ENV_BYTES) fail(where, 'env', `total ${envBytes} bytes; at most ${MAX_ENV_BYTES} allowed`);

  const cwd = absolutePath(where, 'cwd', raw['cwd'], true);
  const stdin = absolutePath(where, 'stdin', raw['stdin'], true);
  const stdout = absolutePath(where, 'stdout', raw['stdout'], true);
  const stderr = absolutePath(where, 'stderr', raw['stderr'], true);

  const tty = raw['tty'] ?? false;
  if (typeof tty !== 'boolean') fail(where, 'tty', 'must be true or false');

  const limitsRaw = raw['limits'] ?? {};
  if (limitsRaw === null || typeof limitsRaw !== 'object' || Array.isArray(limitsRaw)) fail(where, 'limits', 'must be an object');
  let wallclockSeconds: number | null = null;
  for (const [k, v] of Object.entries(limitsRaw as Record<string, unknown>)) {
    if (k !== 'wallclockSeconds') fail(where, `limits.${k}`, 'is not a known limit (wallclockSeconds)');
    if (v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_WALLCLOCK) {
      fail(where, 'limits.wallclockSeconds', `must be an integer from 1 to ${MAX_WALLCLOCK}`);
    }
    wallclockSeconds = v;
  }

  const identityRaw = raw['identity'] ?? null;
  if (identityRaw !== null && (typeof identityRaw !== 'string' || identityRaw.length === 0 || identityRaw.length > 16384)) {
    fail(where, 'identity', 'must be a JWT (a non-empty string of at most 16 KiB) or null');
  }

  const credsRaw = raw['credentials'] ?? [];
  if (!Array.isArray(credsRaw)) fail(where, 'credentials', 'must be an array of credential objects');
  if (credsRaw.length > MAX_CREDENTIALS) fail(where, 'credentials', `has ${credsRaw.length} entries; at most ${MAX_CREDENTIALS} allowed`);
  const credentials = credsRaw.map((c: unknown, i: number) => {
    try {
      return parseCredential(c, `credentials[${i}]`);
    } catch (e) {
      if (isGlideinError(e)) {
        const msg = e.message.startsWith(`credentials[${i}]`) ? e.message : `credentials[${i}]: ${e.message}`;
        throw new GlideinError('GLIDEIN_ERR_JOB_SPEC', `${where}: ${msg}`, { cause: e, details: { field: `credentials[${i}]` } });
      }
      throw e;
    }
  });
  const purposes = new Set<string>();
  credentials.forEach((c, i) => {
    if (purposes.has(c.purpose)) fail(where, `credentials[${i}].purpose`, `repeats '${c.purpose}'; one credential per purpose`);
    purposes.add(c.purpose);
  });

  const gpus = raw['gpus'] ?? 0;
  if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus < 0 || gpus > MAX_GPUS) fail(where, 'gpus', `must be an integer from 0 to ${MAX_GPUS}`);

  return {
    id: id as string,
    executable,
    args,
    env,
    cwd,
    stdin,
    stdout,
    stderr,
    tty: tty as boolean,
    limits: { wallclockSeconds },
    identity: identityRaw as string | null,
    credentials,
    container: parseJobContainer(raw['container'], 'GLIDEIN_ERR_JOB_SPEC', where),
    gpus: gpus as number,
  };
}
