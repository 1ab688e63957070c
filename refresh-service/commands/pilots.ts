// 'refresh-service pilots': one row per pilot (family) with its status, binding, last refresh and
// heartbeat, pilot state, validation verdict, node and revocation; a table, or JSON for scripts.
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, stringFlag } from '../../shared/cli-args.ts';
import { UsageError } from '../../shared/errors.ts';
import { formatTable, when } from '../operator/format-table.ts';
import { openOperatorStore, STATE_OPTIONS } from '../operator/open-operator-store.ts';
import { isPilotStatus, PILOT_STATUSES, type PilotView } from '../operator/pilot-view.ts';
import { writePaged } from '../operator/pager.ts';
import { queryPilots } from '../operator/queries.ts';

const COMMAND = 'refresh-service pilots';

export function outputFormat(command: string, value: string | undefined): 'table' | 'json' {
  const format = value ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`${command}: --format '${format}' is not valid; expected table or json`);
  return format;
}

function table(pilots: PilotView[]): string {
  const rows = pilots.map((p) => [
    p.glidein_id, p.entry, p.status, when(p.registered), p.bound ? 'yes' : 'no', when(p.last_refresh), when(p.last_heartbeat),
    p.pilot_state ?? '-', p.validation === null ? '-' : p.failed_check === null ? p.validation : `${p.validation} ${p.failed_check} (${p.failure})`,
    p.node ?? '-', p.revoked_reason ?? '-',
  ]);
  return formatTable(['GLIDEIN ID', 'ENTRY', 'STATUS', 'REGISTERED', 'BOUND', 'LAST REFRESH', 'LAST HEARTBEAT', 'STATE', 'VALIDATION', 'NODE', 'REVOKED'], rows);
}

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { ...STATE_OPTIONS, entry: { type: 'string' }, status: { type: 'string' }, format: { type: 'string' } });
  const format = outputFormat(COMMAND, stringFlag(args, 'format'));
  const status = stringFlag(args, 'status');
  if (status !== undefined && !isPilotStatus(status)) throw new UsageError(`${COMMAND}: --status '${status}' is not valid; expected one of ${PILOT_STATUSES.join(', ')}`);
  const entry = stringFlag(args, 'entry');
  const { store } = await openOperatorStore(COMMAND, args);
  try {
    const pilots = await queryPilots(store, { ...(entry === undefined ? {} : { entry }), ...(status === undefined ? {} : { status }) }, Math.floor(Date.now() / 1000));
    if (format === 'json') ctx.stdout.write(JSON.stringify({ pilots }, null, 2) + '\n');
    else await writePaged(table(pilots), ctx);
  } finally {
    await store.close();
  }
  return 0;
}
