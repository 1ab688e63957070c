// Launch errors and their classification (DESIGN.md section 7.5): permanent ones hold the job
// (no try-and-fail loop), transient ones are retried with backoff a bounded number of times.

/** The one record the wrapper sends on its close-on-exec channel when it cannot exec. */
export interface LaunchError {
  /** Where it failed: identity, credentials, stdio, cwd, helper, wrapper, exec, pty. */
  stage: string;
  /** An errno name (ENOENT, EACCES …) or a sandbox code (UNMAPPED, HELPER_TIMEOUT …). */
  code: string;
  message: string;
  permanent: boolean;
}

/** Fail the same way however often they are retried on this node. */
const PERMANENT = new Set([
  'ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'ENOEXEC', 'ELOOP', 'ENAMETOOLONG', 'EISDIR', 'E2BIG', 'ELIBBAD', 'EINVAL',
  'UNMAPPED', 'UNVERIFIED', 'NO_IDENTITY', 'NO_ACCOUNT', 'ROOT_REFUSED', 'BAD_SPEC', 'NOT_ROOT', 'CAN_REGAIN_ROOT',
  'WRONG_IDENTITY', 'HELPER_REFUSED', 'CREDENTIAL_EXPIRED', 'PTY_UNAVAILABLE', 'NOT_A_FILE',
  // Containers (issue 22): the image, binds and mode are the same on every retry here.
  'IMAGE_NOT_ALLOWED', 'IMAGE_MISSING', 'IMAGE_FORMAT', 'BIND_FORBIDDEN', 'BIND_MISSING', 'CONTAINER_NOT_ALLOWED', 'CONTAINER_REQUIRED', 'NO_CONTAINER_RUNTIME',
]);
/** Resource shortages and timeouts: worth another try after a pause. */
const TRANSIENT = new Set(['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE', 'ETXTBSY', 'EINTR', 'EBUSY', 'HELPER_TIMEOUT', 'WRAPPER_EXIT', 'EIO',
  // The runtime failed before the sandbox existed (user namespaces off, runtime crashed): a node problem.
  'CONTAINER_RUNTIME_FAILED']);

/** Whether a code is permanent; unknown codes count as transient (retried, but only a few times). */
export function isPermanentCode(code: string): boolean {
  if (PERMANENT.has(code)) return true;
  if (TRANSIENT.has(code)) return false;
  return false;
}

export function launchError(stage: string, code: string, message: string, permanent = isPermanentCode(code)): LaunchError {
  return { stage, code, message, permanent };
}

/** Check a record read from the channel (it comes from a process running as the job's user). */
export function parseLaunchRecord(text: string): LaunchError | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const r = v as Record<string, unknown>;
  if (typeof r['stage'] !== 'string' || typeof r['code'] !== 'string' || typeof r['message'] !== 'string' || typeof r['permanent'] !== 'boolean') return null;
  const clip = (s: string) => s.slice(0, 512).replace(/[\u0000-\u001f]/g, ' ');
  return { stage: clip(r['stage']), code: clip(r['code']), message: clip(r['message']), permanent: r['permanent'] };
}

/** Full-jitter exponential backoff (ms) before attempt `attempt + 1`. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 5000): number {
  return Math.floor(Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
}
