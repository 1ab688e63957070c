// Descriptors leaked by whoever starts glidein do not reach payloads (issue 11, item 5): a
// parent opens fd 251 (no close-on-exec) on a secret before starting `glidein exec`; the payload,
// another account, lists /proc/self/fd.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { CLI_TS, EXE, NODE, ROOT } from '../helpers/paths.ts';
import { makeFixture, type SandboxFixture } from './sandbox-fixture.ts';

const HIGH_FD = 251;

/** Run `cmd` with `file` open at fd 251 without close-on-exec (spawn dup2s it there). */
function runWithHighFd(cmd: string[], file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const fd = openSync(file, 'r');
  const stdio: ('pipe' | 'ignore' | number)[] = ['ignore', 'pipe', 'pipe'];
  while (stdio.length < HIGH_FD) stdio.push('ignore');
  stdio.push(fd);
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio, cwd: '/' });
  closeSync(fd);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

let fx: SandboxFixture;

describe('inherited descriptors', () => {
  it('closeInheritedDescriptors closes an inherited fd 251 and leaves Node working', async () => {
    const probe = [
      `import { closeInheritedDescriptors } from ${JSON.stringify(join(ROOT, 'agent', 'sandbox', 'inherited-fds.ts'))};`,
      "import { readdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';",
      'const closed = closeInheritedDescriptors();',
      "writeFileSync('/tmp/glsbx-fd-probe', 'x'); readFileSync('/tmp/glsbx-fd-probe'); rmSync('/tmp/glsbx-fd-probe');",
      "await new Promise((r) => setTimeout(r, 10));",
      "console.log(JSON.stringify({ closed, open: readdirSync('/proc/self/fd').map(Number) }));",
    ].join('\n');
    const r = await runWithHighFd([NODE, '--input-type=module', '-e', probe], '/etc/hostname');
    expect(r.stderr).toBe('');
    const seen = JSON.parse(r.stdout) as { closed: number[]; open: number[] };
    expect(seen.closed).toEqual([HIGH_FD]);
    expect(seen.open).not.toContain(HIGH_FD);
  });

  it("keeps V8's own profiling files open under --perf-basic-prof (closing them let V8 write into the next file opened)", async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'glsbx-perf-'));
    const file = join(cwd, 'secret');
    const probe = [
      `import { closeInheritedDescriptors } from ${JSON.stringify(join(ROOT, 'agent', 'sandbox', 'inherited-fds.ts'))};`,
      "import { closeSync, openSync, writeSync, readFileSync } from 'node:fs';",
      'closeInheritedDescriptors();',
      `const fd = openSync(${JSON.stringify(file)}, 'w');`,
      // While the file is open: new code (V8 appends to its perf map) and heap growth (V8 logs
      // each new memory chunk to its isolate log).
      'const keep = [];',
      'for (let i = 0; i < 200; i++) { new Function(`return ${i} + 1`)(); keep.push(new Array(20000).fill(i)); }',
      "writeSync(fd, 'secret-key'); closeSync(fd);",
      "await new Promise((r) => setTimeout(r, 20));",
      `console.log(JSON.stringify(readFileSync(${JSON.stringify(file)}, 'utf8')) + ' ' + keep.length);`,
    ].join('\n');
    try {
      const child = spawn(NODE, ['--perf-basic-prof', '--input-type=module', '-e', probe], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise((r) => child.on('close', r));
      if (child.pid !== undefined) rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
      expect(code).toBe(0);
      expect(stdout.trim()).toBe('"secret-key" 200');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 30_000);
});

describe.skipIf(!IS_ROOT)('inherited descriptors through glidein exec', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glfdalice', 'glfdbob']);
  });
  afterAll(() => fx?.cleanup());

  const entries: [string, string[] | null][] = [
    ['the TypeScript entry', [NODE, CLI_TS]],
    ['the built executable', existsSync(EXE) ? [EXE] : null],
  ];
  it.for(entries)("a payload started by %s does not see the parent's fd 251", async ([, cmd], ctx) => {
    if (cmd === null) return ctx.skip();
    const secret = join(fx.dir, 'parent-secret');
    writeFileSync(secret, 'parent-secret\n', { mode: 0o600 });
    const w = fx.workdir(fx.users.a);
    const out = join(w, 'fds');
    const job = fx.job({ id: 'fds', executable: '/bin/sh', args: ['-c', 'ls /proc/self/fd; cat /proc/self/fd/251 2>/dev/null; true'], stdout: out, cwd: w, identity: await fx.token({ sub: 'alice' }) });
    const r = await runWithHighFd([...cmd, 'exec', '--job', job, '--policy', fx.policies.setuid], secret);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')).not.toContain(String(HIGH_FD));
    expect(text).not.toContain('parent-secret');
  });
});
