// The spool contract: *.json specs in, <name>.result.json out, spec renamed <name>.done, at most
// `slots` jobs at once. The launcher here is a real child process per job (the sandbox path
// itself is covered end to end in pilot.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, specName, type LaunchFn, type SpoolJobResult } from '../../agent/pilot/spool.ts';
import { systemClock } from '../../agent/pilot/clock.ts';
import { silentLogger } from '../../shared/log.ts';
import { GlideinError } from '../../shared/errors.ts';

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
