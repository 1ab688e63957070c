// The site policy's `audit` key (DESIGN.md turn 3, issue 25): where the site keeps its audit
// records of identity switches and job ends. `syslog`: true (LOG_AUTHPRIV to /dev/log, what
// gLExec and sudo use; journald reads it on systemd nodes), an absolute socket path, or false;
// `file`: an append-only file owned by the agent's account (root in setuid mode), or null;
// `required`: no job starts when a destination cannot be written. The default with
// `setuid`/`helper` is syslog on, file off; with `none`: nothing.
import { GlideinError } from '../../shared/errors.ts';

export interface AuditPolicy {
  /** The syslog socket (true in the policy: /dev/log); null: no syslog. */
  readonly syslog: string | null;
  /** The audit file; null: none. */
  readonly file: string | null;
  /** Refuse to start jobs when a destination cannot be written. */
  readonly required: boolean;
}

export const DEFAULT_SYSLOG_SOCKET = '/dev/log';
const FIELDS = new Set(['syslog', 'file', 'required']);

function fail(where: string, field: string, expected: string): never {
  throw new GlideinError('GLIDEIN_ERR_POLICY', `${where}: field '${field}' ${expected}`, { details: { field } });
}

/** Parse `audit` from untrusted policy JSON; `switching`: the identity mode is setuid or helper. */
export function parseAuditPolicy(value: unknown, where: string, switching: boolean): AuditPolicy {
  if (value === undefined) return { syslog: switching ? DEFAULT_SYSLOG_SOCKET : null, file: null, required: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, 'audit', 'must be an object {"syslog": true|false|SOCKET, "file": PATH|null, "required": false}');
  const raw = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(raw)) if (!FIELDS.has(k)) fail(where, `audit.${k}`, 'is not an audit field (syslog, file, required)');
  const s = raw['syslog'] ?? switching;
  if (typeof s !== 'boolean' && !(typeof s === 'string' && s.startsWith('/') && !s.includes('\0'))) fail(where, 'audit.syslog', 'must be true, false or the absolute path of a syslog socket');
  const file = raw['file'] ?? null;
  if (file !== null && (typeof file !== 'string' || !file.startsWith('/') || file.endsWith('/') || file.includes('\0'))) fail(where, 'audit.file', 'must be the absolute path of a file, or null');
  const required = raw['required'] ?? false;
  if (typeof required !== 'boolean') fail(where, 'audit.required', 'must be true or false');
  const syslog = s === true ? DEFAULT_SYSLOG_SOCKET : s === false ? null : s;
  if (required && syslog === null && file === null) fail(where, 'audit.required', 'is true, but neither syslog nor file is set: there is nowhere to write the records');
  return { syslog, file: file as string | null, required };
}
