// The built executable ignores NODE_OPTIONS in every role (issue 21 item 1). HTCondor's starter
// runs the job wrapper with the job's environment: a job's NODE_OPTIONS='--require ./evil.js'
// ran evil.js as the pilot before the SEA config set execArgvExtension 'none'. evil.js here
// writes a marker with the uid that ran it; the marker must never appear.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXE } from '../helpers/paths.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-node-options-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function evil(name: string): { script: string; marker: string } {
  const marker = join(dir, `${name}.marker`);
  const script = join(dir, `${name}.js`);
  writeFileSync(script, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran as uid ' + process.getuid());\n`);
  return { script, marker };
}

describe('dist/glidein and NODE_OPTIONS', () => {
  // Roles that start without a config: each must still not load the job's module.
  const roles: [string, string[]][] = [
    ['--version', ['--version']],
    ['--help', ['--help']],
    ['condor-job-wrapper (no config)', ['condor-job-wrapper', '--', '/bin/true']],
    ['condor-prepare-job (no config)', ['condor-prepare-job']],
    ['refresh-service --help', ['refresh-service', '--help']],
  ];
  it.each(roles)('%s does not run a module named by NODE_OPTIONS (--require, --import)', (name, args) => {
    const req = evil(`require-${name.replace(/\W+/g, '_')}`);
    const imp = evil(`import-${name.replace(/\W+/g, '_')}`);
    const r = spawnSync(EXE, args, {
      env: { PATH: '/usr/bin:/bin', NODE_OPTIONS: `--require ${req.script} --import ${imp.script}` },
      input: '', encoding: 'utf8', timeout: 30_000,
    });
    expect(r.error).toBeUndefined();
    expect(existsSync(req.marker)).toBe(false);
    expect(existsSync(imp.marker)).toBe(false);
  });

  it('the same module does run under plain node with that NODE_OPTIONS (the test can see an attack work)', () => {
    const req = evil('control');
    const r = spawnSync(process.execPath, ['-e', '0'], { env: { PATH: '/usr/bin:/bin', NODE_OPTIONS: `--require ${req.script}` }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(req.marker)).toBe(true);
  });
});
