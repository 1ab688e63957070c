// `glidein audit [--file PATH] [--uid N | --account NAME | --sub SUB | --job ID | --pid PID [--at TIME]]
// [--since TIME] [--until TIME] [--format table|json]` (DESIGN.md section 5, issue 25): the site
// admin's query over the audit records: one row per job run. Exit 0 when some run matched, 1
// when none did (as grep), 2 for a bad flag or an unreadable file.
import type { CommandContext } from '../command.ts';
import { integerFlag, parseCommandArgs, stringFlag } from '../../shared/cli-args.ts';
import { GlideinError, UsageError, errnoCode } from '../../shared/errors.ts';
import { queryAuditFile, type AuditQuery, type AuditRun } from '../audit/audit-query.ts';
import { parseAuditTime } from '../audit/audit-time.ts';
import { formatTable } from '../../refresh-service/operator/format-table.ts';

const COMMAND = 'audit';
export const DEFAULT_AUDIT_FILE = '/var/log/glidein/audit.log';

const short = (iso: string | null) => (iso === null ? '-' : iso.replace(/\.\d{3}Z$/, 'Z'));

function table(runs: AuditRun[]): string {
  const rows = runs.map((r) => [
    short(r.startedAt), short(r.endedAt), r.job, r.source,
    `${r.sub ?? '-'}${r.verified ? '' : ' (unverified)'} ${r.iss ?? ''}`.trim(),
    r.account === null ? '-' : `${r.account} (${r.uid})`, r.pid == null ? '-' : String(r.pid),
    r.why ?? 'running', r.pilot ? `${r.pilot.glideinId} ${r.pilot.entry}` : '-',
  ]);
  return formatTable(['STARTED', 'ENDED', 'JOB', 'SOURCE', 'IDENTITY', 'ACCOUNT', 'PID', 'END', 'PILOT'], rows);
}

function query(args: ReturnType<typeof parseCommandArgs>): AuditQuery {
  const q: AuditQuery = {};
  const uid = integerFlag(COMMAND, args, 'uid', { max: 2 ** 32 - 1 });
  const pid = integerFlag(COMMAND, args, 'pid', { min: 1, max: 2 ** 22 });
  if (uid !== undefined) q.uid = uid;
  if (pid !== undefined) q.pid = pid;
  for (const k of ['account', 'sub', 'job'] as const) {
    const v = stringFlag(args, k);
    if (v !== undefined) q[k] = v;
  }
  for (const k of ['at', 'since', 'until'] as const) {
    const v = stringFlag(args, k);
    if (v !== undefined) q[k] = parseAuditTime(k, v);
  }
  if (q.since !== undefined && q.until !== undefined && q.since > q.until) throw new UsageError(`${COMMAND}: --since is after --until`);
  return q;
}

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const s = { type: 'string' } as const;
  const args = parseCommandArgs(COMMAND, argv, { file: s, uid: s, account: s, sub: s, job: s, pid: s, at: s, since: s, until: s, format: s });
  const format = stringFlag(args, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`${COMMAND}: --format '${format}' is not valid; expected table or json`);
  const file = stringFlag(args, 'file') ?? DEFAULT_AUDIT_FILE;
  const q = query(args);
  let runs: AuditRun[];
  try {
    runs = await queryAuditFile(file, q);
  } catch (e) {
    throw new GlideinError('GLIDEIN_ERR_CONFIG', `${COMMAND}: cannot read the audit file ${file} (${errnoCode(e) ?? (e as Error).message})${file === DEFAULT_AUDIT_FILE ? "; name the site policy's audit file with --file" : ''}`, { cause: e });
  }
  if (format === 'json') ctx.stdout.write(JSON.stringify({ runs }, null, 2) + '\n');
  else ctx.stdout.write(runs.length === 0 ? 'no job run matches\n' : table(runs));
  return runs.length === 0 ? 1 : 0;
}
