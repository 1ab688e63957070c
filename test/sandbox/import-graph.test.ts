// No import circle in the project's sources (issue 22: the sandbox had job.ts ↔ job-launch.ts ↔
// job-reap.ts ↔ job-supervision.ts ↔ start-job.ts; launch, supervision and reap now take the job's
// state, job-state.ts, as an argument and import nothing back).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.ts';
import { importCircles, importGraph } from '../helpers/import-graph.ts';

const SOURCES = ['agent', 'shared', 'refresh-service'];

describe('import graph', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'glidein-imports-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('finds a circle of type-only and multi-line imports, and none where there is none', () => {
    mkdirSync(join(tmp, 'src', 'sub'), { recursive: true });
    writeFileSync(join(tmp, 'src', 'a.ts'), "import { b } from './sub/b.ts';\nexport const a = b;\n");
    writeFileSync(join(tmp, 'src', 'sub', 'b.ts'), "import type {\n  C,\n} from '../c.ts';\nexport const b = 1 as unknown as C;\n");
    writeFileSync(join(tmp, 'src', 'c.ts'), "// import { a } from './a.ts';\nexport type C = number;\n");
    writeFileSync(join(tmp, 'src', 'd.ts'), "import './d.ts';\n");
    expect(importCircles(importGraph(tmp, ['src']))).toEqual([['src/d.ts']]);
    writeFileSync(join(tmp, 'src', 'c.ts'), "import type { a } from './a.ts';\nexport type C = typeof a;\n");
    expect(importCircles(importGraph(tmp, ['src']))).toEqual([['src/a.ts', 'src/c.ts', 'src/sub/b.ts'], ['src/d.ts']]);
  });

  it('has no circle in agent/, shared/ and refresh-service/', () => {
    const g = importGraph(ROOT, SOURCES);
    expect(g.get('agent/sandbox/job.ts')).toContain('agent/sandbox/job-launch.ts');
    expect(importCircles(g)).toEqual([]);
  });
});
