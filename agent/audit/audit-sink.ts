// Where a process's audit records go (issue 25): the policy's syslog socket and/or file. A record
// that cannot be written is never dropped in silence: the problem goes to the agent's own log
// (without the record: the agent's log flows back to the VO, the record is the site's), and into
// the sink's state, which the pilot's status report carries.
import type { Logger } from '../../shared/log.ts';
import type { AuditPolicy } from './audit-policy.ts';
import { AUDIT_PREFIX, formatAuditLine, type AuditRecord } from './audit-record.ts';
import { appendAuditLine, auditFileProblem } from './audit-file.ts';
import { sendSyslog } from './audit-syslog.ts';
import { statSync } from 'node:fs';

export interface AuditState {
  /** Records written to every destination. */
  written: number;
  /** Records that missed at least one destination. */
  failed: number;
  /** The latest problem, or null once a later record was written everywhere. */
  problem: string | null;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Every sink of this process together (a pilot's status report says how its records fared). */
const processState: AuditState & { attempted: boolean } = { written: 0, failed: 0, problem: null, attempted: false };

/** What the pilot's status report carries about its audit records; undefined before any record. */
export function auditStatus(): AuditState | undefined {
  return processState.attempted ? { written: processState.written, failed: processState.failed, problem: processState.problem } : undefined;
}

export class AuditSink {
  readonly policy: AuditPolicy;
  readonly #log: Logger;
  readonly state: AuditState = { written: 0, failed: 0, problem: null };

  constructor(policy: AuditPolicy, log: Logger) {
    this.policy = policy;
    this.#log = log;
  }

  /** True when the policy names any destination. */
  get enabled(): boolean {
    return this.policy.syslog !== null || this.policy.file !== null;
  }

  /** Write one record everywhere the policy says; the problems (empty: written everywhere). */
  async write(r: AuditRecord): Promise<string[]> {
    if (!this.enabled) return [];
    const line = formatAuditLine(r);
    const jobs: Promise<string | null>[] = [];
    if (this.policy.file !== null) jobs.push(appendAuditLine(this.policy.file, line));
    // syslog adds the tag itself: `glidein-audit: {…}`, the same text as the file's line.
    if (this.policy.syslog !== null) jobs.push(sendSyslog(this.policy.syslog, line.slice(AUDIT_PREFIX.length)));
    const problems = (await Promise.all(jobs)).filter((p): p is string => p !== null);
    processState.attempted = true;
    for (const s of [this.state, processState]) {
      if (problems.length === 0) s.written++;
      else s.failed++;
      s.problem = problems.length === 0 ? null : problems.join('; ');
    }
    if (problems.length === 0) return problems;
    this.#log.error('site audit record not written', { event: r.event, job: r.job, problems, required: this.policy.required });
    return problems;
  }

  /** Why a record could not be written now (the `required` check before a job starts), or null. */
  async problem(): Promise<string | null> {
    const problems: string[] = [];
    if (this.policy.file !== null) {
      const p = await auditFileProblem(this.policy.file);
      if (p) problems.push(p);
    }
    const sock = this.policy.syslog;
    if (sock !== null && !isSocket(sock)) problems.push(`syslog ${sock} is not a socket (no syslog daemon listening?)`);
    return problems.length === 0 ? null : problems.join('; ');
  }
}
