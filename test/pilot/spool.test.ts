// The spool contract: *.json specs in, <name>.result.json out, spec renamed <name>.done, at most
// `slots` jobs at once. The launcher here is a real child process per job (the sandbox path
// itself is covered end to end in pilot.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, specName, type LaunchFn, type SpoolJobResult } from '../../agent/pilot/spool.ts';
import { systemClock } from '../../agent/pilot/clock.ts';
import { silentLogger } from '../../shared/log.ts';
import { GlideinError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { parseJobSpec, MAX_JOB_SPEC_BYTES } from '../../agent/sandbox/job-spec.ts';
import { ROOT } from '../helpers/paths.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

let concurrent = 0;
let maxConcurrent = 0;
const kills: string[] = [];
/** Each spec is {"id", "sleep": seconds, "exit": code}: a real `sleep` process. */
const launch: LaunchFn = (value) => {
  const v = value as { id: string; sleep: number; exit?: number; bad?: boolean };
  if (v.bad) throw new GlideinError('GLIDEIN_ERR_JOB_SPEC', "job spec: field 'executable' must be an absolute path");
  const started = Date.now();
  const child = spawn('/bin/sh', ['-c', `sleep ${v.sleep}; exit ${v.exit ?? 0}`]);
  concurrent++;
  maxConcurrent = Math.max(maxConcurrent, concurrent);
  let killedFor: string | null = null;
  const result = new Promise<SpoolJobResult>((resolve) =>
    child.on('exit', (code, signal) => {
      concurrent--;
      resolve({ id: v.id, state: killedFor ? 'killed' : code === 0 ? 'completed' : 'failed', exitCode: code, signal, reason: killedFor, launchError: null, uid: process.getuid!(), durationMs: Date.now() - started });
    }),
  );
  return { result, kill: (reason) => { killedFor = reason; kills.push(reason); child.kill('SIGTERM'); } };
};

function spool(slots: number) {
  return new Spool({ dir, slots, launch, log: silentLogger, clock: systemClock, pollMs: 50 });
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Spool', () => {
  it.each([
    ['job.json', 'job'],
    ['job.result.json', undefined],
    ['.hidden.json', undefined],
    ['job.done', undefined],
    ['job.json.tmp', undefined],
  ])('treats %s as spec name %s', (file, name) => {
    expect(specName(file)).toBe(name);
  });

  it('runs every spec with at most `slots` at once, writes <name>.result.json and renames the spec to <name>.done', async () => {
    maxConcurrent = 0;
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `j${i}.json`), JSON.stringify({ id: `j${i}`, sleep: 0.3, exit: i === 3 ? 7 : 0 }));
    const s = spool(2);
    s.start();
    await until(() => s.counts.completed + s.counts.failed === 4);
    s.stopAccepting();
    expect(maxConcurrent).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['j0.done', 'j0.result.json', 'j1.done', 'j1.result.json', 'j2.done', 'j2.result.json', 'j3.done', 'j3.result.json']);
    expect(JSON.parse(readFileSync(join(dir, 'j3.result.json'), 'utf8'))).toMatchObject({ id: 'j3', state: 'failed', exitCode: 7 });
    expect(s.counts).toMatchObject({ started: 4, completed: 3, failed: 1, running: 0 });
  });

  it.each([
    ['not JSON', '{"id":', 'GLIDEIN_ERR_JOB_SPEC', 'spec'],
    ['refused by the launcher', JSON.stringify({ id: 'x', bad: true }), 'GLIDEIN_ERR_JOB_SPEC', 'spec'],
  ])('holds a spec that is %s with a result naming the problem', async (_n, text, code, stage) => {
    writeFileSync(join(dir, 'x.json'), text);
    const s = spool(1);
    s.start();
    await until(() => existsSync(join(dir, 'x.done')));
    s.stopAccepting();
    expect(JSON.parse(readFileSync(join(dir, 'x.result.json'), 'utf8'))).toMatchObject({ state: 'held', launchError: { code, stage, permanent: true } });
  });

  it('a spec the launcher gives up untaken (it waited for GPUs while the pilot stopped taking work) keeps its file and gets no result', async () => {
    let calls = 0;
    let s: Spool | undefined;
    const untaken: LaunchFn = () => {
      calls++;
      s?.stopAccepting(); // as retire does, before the waiting launch answers
      return null;
    };
    writeFileSync(join(dir, 'waiter.json'), JSON.stringify({ id: 'waiter', sleep: 0 }));
    s = new Spool({ dir, slots: 2, launch: untaken, log: silentLogger, clock: systemClock, pollMs: 20 });
    s.start();
    await until(() => calls > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['waiter.json']);
    expect(s.counts).toMatchObject({ started: 0, held: 0, killed: 0, running: 0 });
  });

  it('takes no new spec after stopAccepting, and killAll stops running jobs with the reason', async () => {
    kills.length = 0;
    writeFileSync(join(dir, 'long.json'), JSON.stringify({ id: 'long', sleep: 30 }));
    const s = spool(2);
    s.start();
    await until(() => s.running === 1);
    s.stopAccepting();
    writeFileSync(join(dir, 'late.json'), JSON.stringify({ id: 'late', sleep: 0 }));
    s.killAll('pilot-shutdown');
    await s.idle();
    expect(kills).toEqual(['pilot-shutdown']);
    expect(JSON.parse(readFileSync(join(dir, 'long.result.json'), 'utf8'))).toMatchObject({ state: 'killed', reason: 'pilot-shutdown' });
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join(dir, 'late.json'))).toBe(true);
    expect(existsSync(join(dir, 'late.result.json'))).toBe(false);
  });
});

// Hostile spool writers (issue 11 item 8): whoever can write the spool may put a FIFO, a symlink
// or a hard link where a spec was. The launcher is the real spec parser (as the sandbox's), so
// a spec read from the wrong file shows up as a field name in the held result.
describe('Spool spec files from a hostile writer', () => {
  const RACER = join(ROOT, 'test', 'fixtures', 'pilot', 'spool-racer.mjs');
  const SECRET = `SECRET-${process.pid}-${Date.now()}`;
  let secretFile: string;
  let logLines: string[];

  const parsingLaunch: LaunchFn = (value, where) => {
    const spec = parseJobSpec(value, where);
    return { result: Promise.resolve({ id: spec.id, state: 'completed', exitCode: 0, signal: null, reason: null, launchError: null, uid: process.getuid!(), durationMs: 0 }), kill: () => undefined };
  };

  function hostileSpool(spoolDir = dir) {
    logLines = [];
    const log = createLogger({ format: 'json', level: 'debug', sink: { write: (l: string) => logLines.push(l) } });
    return new Spool({ dir: spoolDir, slots: 2, launch: parsingLaunch, log, clock: systemClock, pollMs: 20 });
  }

  /** Every result file and log line: none may hold a byte of the file the writer could not read. */
  function everythingWritten(spoolDir = dir): string {
    const results = readdirSync(spoolDir).filter((f) => f.endsWith('.result.json')).map((f) => readFileSync(join(spoolDir, f), 'utf8'));
    return [...results, ...logLines].join('\n');
  }

  /**
   * A spool dir whose path is slow to resolve: `real` is 600 levels deep and holds a symlink `n`
   * to itself; the agent is given `real/n/n/…/n` (39 links), so each lookup of a spec by that
   * path walks some 24,000 components before it reaches the name the racer swaps (the racer
   * works from inside `real`). A check-then-read by path then loses the race within a few
   * dozen names (seen every time on the old code), instead of once in hundreds.
   */
  function slowSpool(): { real: string; slow: string } {
    const real = join(dir, ...Array<string>(600).fill('d'));
    mkdirSync(real, { recursive: true });
    symlinkSync(real, join(real, 'n'));
    execFileSync('mkfifo', ['-m', '0666', '.racer-fifo'], { cwd: real });
    return { real, slow: join(real, ...Array<string>(39).fill('n')) };
  }

  function race(spoolDir: string, kind: 'fifo' | 'symlink', count: number): Promise<string> {
    const racer = spawn(process.execPath, [RACER, '.', kind, String(count), secretFile], { cwd: spoolDir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    racer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve) => racer.on('close', () => resolve(out.trim())));
  }

  beforeEach(() => {
    // A file only its owner may read (root, when the tests run as root as in CI), holding valid JSON.
    secretFile = join(mkdtempSync(join(tmpdir(), 'glidein-secret-')), 'secret.json');
    writeFileSync(secretFile, JSON.stringify({ [SECRET]: true }), { mode: 0o600 });
    chmodSync(join(secretFile, '..'), 0o700);
  });
  afterEach(() => rmSync(join(secretFile, '..'), { recursive: true, force: true }));

  it.each([
    ['a FIFO', () => execFileSync('mkfifo', [join(dir, 'x.json')]), 'is a FIFO'],
    ['a symlink to a file the writer cannot read', () => symlinkSync(secretFile, join(dir, 'x.json')), 'is a symbolic link'],
    ['a hard link to such a file', () => linkSync(secretFile, join(dir, 'x.json')), 'has 2 hard links'],
    ['a directory', () => mkdirSync(join(dir, 'x.json')), 'is a directory'],
    ['a spec over the size limit', () => writeFileSync(join(dir, 'x.json'), ' '.repeat(MAX_JOB_SPEC_BYTES + 1)), `is larger than ${MAX_JOB_SPEC_BYTES} bytes`],
  ])('holds %s as x.json, naming why, and runs the next spec', async (_what, plant, why) => {
    plant();
    writeFileSync(join(dir, 'y.json'), JSON.stringify({ id: 'next', executable: '/bin/true' }));
    const s = hostileSpool();
    s.start();
    await until(() => existsSync(join(dir, 'x.result.json')) && existsSync(join(dir, 'y.result.json')));
    s.stopAccepting();
    expect(JSON.parse(readFileSync(join(dir, 'x.result.json'), 'utf8'))).toMatchObject({ state: 'held', reason: expect.stringContaining(why), launchError: { code: 'GLIDEIN_ERR_JOB_SPEC', stage: 'spec' } });
    expect(JSON.parse(readFileSync(join(dir, 'y.result.json'), 'utf8'))).toMatchObject({ id: 'next', state: 'completed' });
    expect(everythingWritten()).not.toContain(SECRET);
  });

  it('a FIFO swapped in between check and read never blocks the event loop; the spool keeps taking jobs', async () => {
    const { real, slow } = slowSpool();
    const s = hostileSpool(slow);
    s.start();
    const verdict = await race(real, 'fifo', 60);
    writeFileSync(join(real, 'after.json'), JSON.stringify({ id: 'after', executable: '/bin/true' }));
    await until(() => existsSync(join(real, 'after.result.json')));
    s.stopAccepting();
    expect(verdict).toBe('DONE');
    expect(JSON.parse(readFileSync(join(real, 'after.result.json'), 'utf8'))).toMatchObject({ state: 'completed' });
  }, 90_000);

  it('a symlink swapped in between check and read is never followed: the unreadable file\'s content appears nowhere', async () => {
    const { real, slow } = slowSpool();
    const s = hostileSpool(slow);
    s.start();
    const verdict = await race(real, 'symlink', 60);
    s.stopAccepting();
    expect(verdict).toBe('DONE');
    const results = readdirSync(real).filter((f) => /^r\d+\.result\.json$/.test(f));
    expect(results.length).toBe(60);
    expect(everythingWritten(real)).not.toContain(SECRET);
  }, 90_000);
});
