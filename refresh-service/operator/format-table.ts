// Plain aligned text tables for the operator commands (JSON is the scripting format).

/** Unix seconds as UTC ISO 8601 without fraction, or '-'. */
export function when(t: number | null): string {
  return t === null ? '-' : new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/** Columns sized to their widest cell, two spaces apart; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
