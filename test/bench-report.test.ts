// The bench's verdicts (scripts/bench/report.mjs, issue 27 section 5): each goal is a ratio to a
// baseline measured in the same run; a figure this machine could not measure gets no verdict
// (and the table says "missing") instead of a crash. No timing is measured here.
import { describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { ROOT } from './helpers/paths.ts';

type Row = [string, unknown, string, number | null, string, boolean | null];
interface Report {
  rows(f: Record<string, number | string | null>): Row[];
  goals(table: Row[]): Record<string, boolean>;
  printTable(table: Row[], missing: Record<string, string>, heading: string): void;
}
const report = async () => (await import(join(ROOT, 'scripts', 'bench', 'report.mjs'))) as Report;

const verdict = (table: Row[], name: string) => table.find((r) => r[0] === name)?.[5];

describe('bench verdicts', () => {
  it('a machine that measured nothing gets no verdict, and the table names each figure missing', async () => {
    const { rows, goals, printTable } = await report();
    const table = rows({});
    expect(goals(table)).toEqual({});
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
    try {
      printTable(table, { coldStartMs: 'dist/glidein cannot be started', agentIdleRssMiB: 'no /proc/PID/smaps_rollup' }, 'bench');
    } finally {
      log.mockRestore();
    }
    const text = lines.join('\n');
    expect(text).toMatch(/^coldStartMs +missing .*missing\s*$/m);
    expect(text).toContain('agentIdleRssMiB: no /proc/PID/smaps_rollup');
    expect(text).not.toMatch(/NaN|undefined|pass|FAIL/);
  });

  it.for([
    // figure, values, pass just inside the goal, fail just outside it
    ['coldStartMs', { nodeStartMs: 40 }, { coldStartMs: 46 }, { coldStartMs: 46.4 }],
    ['validateMs', { validateNodeStartMs: 40 }, { validateMs: 100 }, { validateMs: 100.4 }],
    ['refreshServiceCpuMs', { refreshFloorCpuMs: 0.2 }, { refreshServiceCpuMs: 0.26 }, { refreshServiceCpuMs: 0.262 }],
    ['agentIdleRssMiB', { nodeIdleRssMiB: 40 }, { agentIdleRssMiB: 60 }, { agentIdleRssMiB: 60.2 }],
  ] as const)('%s: the goal is a ratio to its baseline of the same run', async ([name, base, inside, outside]) => {
    const { rows } = await report();
    expect(verdict(rows({ ...base, ...inside }), name)).toBe(true);
    expect(verdict(rows({ ...base, ...outside }), name)).toBe(false);
    expect(verdict(rows({ ...outside }), name)).toBeNull(); // no baseline measured: no verdict
  });
});
