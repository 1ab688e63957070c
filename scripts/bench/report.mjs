// The bench's verdict: each figure next to its baseline and goal, as rows (figure, value,
// baseline, ratio, goal, result) and as the printed table. A figure the run could not measure
// (a tool or a privilege missing, a part that failed) is `null` and named in `missing` with why;
// its row says so instead of a pass or a fail.

const absent = (v) => v === null || v === undefined;
const ratio = (a, b) => (absent(a) || absent(b) || b === 0 ? null : a / b);
/** A baseline's value in the table's text: 'missing' where this run has none. */
const v = (x) => (absent(x) ? 'missing' : String(x));
/** The goal's verdict, or null when one of the values it needs is missing. */
const verdict = (values, test) => (values.some(absent) ? null : test());

export function rows(f) {
  const nodeBase = f.nodeIdleRssMiB;
  return [
    ['coldStartMs', f.coldStartMs, `nodeStartMs ${v(f.nodeStartMs)}${f.coldStartRatioSpread ? ` (pairs ${v(f.coldStartRatioSpread)})` : ''}`, ratio(f.coldStartMs, f.nodeStartMs), '≤ 1.15 × node', verdict([f.coldStartMs, f.nodeStartMs], () => f.coldStartMs <= 1.15 * f.nodeStartMs)],
    ['validateMs', f.validateMs, `node start ${v(f.validateNodeStartMs)} (interleaved)`, ratio(f.validateMs, f.validateNodeStartMs), '≤ 2.5 × node start', verdict([f.validateMs, f.validateNodeStartMs], () => f.validateMs <= 2.5 * f.validateNodeStartMs)],
    ['launchOverheadMs', f.launchOverheadMs, `spawn ${v(f.spawnMs)}, sudo ${v(f.sudoMs)}`, ratio(f.launchOverheadMs, f.nodeStartMs), '≤ 1.5 × node + 10', verdict([f.launchOverheadMs, f.nodeStartMs], () => f.launchOverheadMs <= 1.5 * f.nodeStartMs + 10)],
    ['refreshPerSecond', f.refreshPerSecond, `ceiling ${v(f.refreshCeilingPerSecond)}`, ratio(f.refreshPerSecond, f.refreshCeilingPerSecond), '≥ 1000 and ≥ 0.5 × ceiling', verdict([f.refreshPerSecond, f.refreshCeilingPerSecond], () => f.refreshPerSecond >= 1000 && f.refreshPerSecond >= 0.5 * f.refreshCeilingPerSecond)],
    // The goal is set against the floor (issue 27): node:http + the same crypto and nothing
    // else, under the same load (refresh.mjs --floor); crypto alone is reported beside it.
    ['refreshServiceCpuMs', f.refreshServiceCpuMs, `floor ${v(f.refreshFloorCpuMs)}`, ratio(f.refreshServiceCpuMs, f.refreshFloorCpuMs), '≤ 1.3 × floor', verdict([f.refreshServiceCpuMs, f.refreshFloorCpuMs], () => f.refreshServiceCpuMs <= 1.3 * f.refreshFloorCpuMs)],
    ['refreshFloorCpuMs', f.refreshFloorCpuMs, `crypto alone ${v(f.refreshCryptoCpuMs)}`, ratio(f.refreshFloorCpuMs, f.refreshCryptoCpuMs), 'reported (floor under the service)', null],
    ['refreshServiceCpuMs vs crypto', f.refreshServiceCpuMs, `crypto alone ${v(f.refreshCryptoCpuMs)}`, ratio(f.refreshServiceCpuMs, f.refreshCryptoCpuMs), 'reported (was ≤ 1.5 × crypto)', null],
    ['refreshPostgresServiceCpuMs', f.refreshPostgresServiceCpuMs, `database server ${v(f.refreshPostgresDatabaseCpuMs)}`, ratio(f.refreshPostgresServiceCpuMs, f.refreshCryptoCpuMs), 'reported (ratio: × crypto)', null],
    ['refreshP99Ms', f.refreshP99Ms, `at ${v(f.refreshHalfRatePerSecond)}/s (half max)`, null, '≤ 50', verdict([f.refreshP99Ms], () => f.refreshP99Ms <= 50)],
    // Settled: the executable read back from disk and a first whole run before the measured one (agent-rss.mjs).
    ['agentIdleRssMiB', f.agentIdleRssMiB, `node idle ${v(nodeBase)}`, ratio(f.agentIdleRssMiB, nodeBase), '≤ 1.5 × node idle (settled)', verdict([f.agentIdleRssMiB, nodeBase], () => f.agentIdleRssMiB <= 1.5 * nodeBase)],
    ['  anon / file / PSS', absent(f.agentIdleRssAnonMiB) ? null : `${v(f.agentIdleRssAnonMiB)} / ${v(f.agentIdleRssFileMiB)} / ${v(f.agentIdlePssMiB)}`, `node ${v(f.nodeIdleRssAnonMiB)} / ${v(f.nodeIdleRssFileMiB)} / ${v(f.nodeIdlePssMiB)}`, ratio(f.agentIdleRssAnonMiB, f.nodeIdleRssAnonMiB), 'reported (ratio: anon)', null],
    ['  first run (unsettled)', f.agentIdleFirstRunRssMiB, `settled ${v(f.agentIdleRssMiB)}`, ratio(f.agentIdleFirstRunRssMiB, f.agentIdleRssMiB), 'reported', null],
    ['agentSpoolRssMiB', f.agentSpoolRssMiB, `node idle ${v(nodeBase)}`, ratio(f.agentSpoolRssMiB, nodeBase), '≤ 1.5 × node idle', verdict([f.agentSpoolRssMiB, nodeBase], () => f.agentSpoolRssMiB <= 1.5 * nodeBase)],
    ['refreshP50Ms100kPilots', f.refreshP50Ms100kPilots, `100 pilots ${v(f.refreshP50Ms100Pilots)}`, f.scaleLatencyRatio, '≤ 1.2 × 100-pilot', verdict([f.scaleLatencyRatio], () => f.scaleLatencyRatio <= 1.2)],
    ['stateBytesPerPilot', f.stateBytesPerPilot, '', null, 'reported', null],
    ['containerLaunchMs', f.containerLaunchMs, `bare bwrap ${v(f.containerBareMs)}, node ${v(f.nodeStartMs)}`, ratio(f.containerLaunchMs, f.containerBareMs), '≤ 1.2 × bare + node', verdict([f.containerLaunchMs, f.containerBareMs, f.nodeStartMs], () => f.containerLaunchMs <= 1.2 * f.containerBareMs + f.nodeStartMs)],
  ];
}

/** Each goal's verdict by figure (missing figures left out: they are in `missing`). */
export function goals(table) {
  return Object.fromEntries(table.filter((r) => r[5] !== null).map((r) => [r[0], r[5]]));
}

export function printTable(table, missing, heading) {
  const fmt = (x) => (absent(x) ? '–' : typeof x === 'number' ? String(Math.round(x * 100) / 100) : String(x));
  const lines = [['figure', 'value', 'baseline (same run)', 'ratio', 'goal', 'result'], ...table.map((r) => [r[0], absent(r[1]) && missing[r[0]] ? 'missing' : fmt(r[1]), r[2], fmt(r[3]), r[4], absent(r[5]) ? (missing[r[0]] ? 'missing' : '') : r[5] ? 'pass' : 'FAIL'])];
  const widths = lines[0].map((_, i) => Math.max(...lines.map((row) => row[i].length)));
  console.log(`\n${heading}`);
  for (const [i, row] of lines.entries()) {
    console.log(row.map((c, j) => c.padEnd(widths[j])).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const why = Object.entries(missing);
  if (why.length > 0) console.log(`\nmissing (not measured on this machine):\n${why.map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
}
