// 'refresh-service entries': per entry, pilots by status, validation failures and revocations in
// the last hour and day, refresh success ratio, most common failure and node, black holes.
import type { CommandContext } from '../../agent/command.ts';
import { parseCommandArgs, stringFlag } from '../../shared/cli-args.ts';
import type { EntryView } from '../operator/entry-view.ts';
import { formatTable } from '../operator/format-table.ts';
import { openOperatorStore, STATE_OPTIONS } from '../operator/open-operator-store.ts';
import { writePaged } from '../operator/pager.ts';
import { queryEntries } from '../operator/queries.ts';
import { outputFormat } from './pilots.ts';

const COMMAND = 'refresh-service entries';

function table(entries: EntryView[]): string {
  const rows = entries.map((e) => [
    e.entry, String(e.pilots.live + e.pilots.draining), `${e.failed_validation.hour}/${e.failed_validation.day}`, `${e.revoked.hour}/${e.revoked.day}`,
    e.refreshes.success_ratio === null ? '-' : `${(e.refreshes.success_ratio * 100).toFixed(1)}% of ${e.refreshes.ok + e.refreshes.failed}`,
    e.top_failure ?? '-', e.top_failure_node ?? '-',
    [e.black_hole ? 'ENTRY' : '', ...e.black_hole_nodes].filter((s) => s !== '').join(' ') || '-',
  ]);
  return formatTable(['ENTRY', 'LIVE', 'FAILED VALIDATION 1H/1D', 'REVOKED 1H/1D', 'REFRESH OK (1D)', 'TOP FAILURE', 'TOP FAILURE NODE', 'BLACK HOLE'], rows);
}

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(COMMAND, argv, { ...STATE_OPTIONS, format: { type: 'string' } });
  const format = outputFormat(COMMAND, stringFlag(args, 'format'));
  const { store } = await openOperatorStore(COMMAND, args);
  try {
    const entries = await queryEntries(store, Math.floor(Date.now() / 1000));
    if (format === 'json') ctx.stdout.write(JSON.stringify({ entries }, null, 2) + '\n');
    else await writePaged(table(entries), ctx);
  } finally {
    await store.close();
  }
  return 0;
}
