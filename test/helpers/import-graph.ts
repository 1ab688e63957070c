// The static import graph of the project's TypeScript sources and its circles (strongly connected
// components of more than one file, or a file importing itself). Every relative `import … from`,
// `export … from` and side-effect `import '…'` counts, `import type` included: a circle of types
// is still a circle for a reader. Dynamic `import()` is not a static edge and is not counted.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const EDGE = /(?:^|[\n;])\s*(?:import|export)\s+(?:[^;'"]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** file → the project files it imports (paths relative to `root`). */
export function importGraph(root: string, dirs: readonly string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const d of dirs) {
    for (const f of tsFiles(join(root, d))) {
      const text = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
      const deps = [...text.matchAll(EDGE)].map((m) => relative(root, resolve(dirname(f), m[1]!)));
      g.set(relative(root, f), deps);
    }
  }
  return g;
}

/** The circles of the graph, each as its files (sorted), by Tarjan's algorithm. */
export function importCircles(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const c: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1 || (g.get(v) ?? []).includes(v)) out.push(c.sort());
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}
