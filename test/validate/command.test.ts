import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/run-cli.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';

// The command runs from source (the executable is exercised by the benchmark and CI's build).
const validate = (args: string[], env: NodeJS.ProcessEnv = process.env) => runCli(['validate', ...args], { source: true, env });

function run(cmd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('glidein validate', () => {
  it('--format json reports every check truthfully on this machine and exits 0', async () => {
    const r = await validate(['--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('OK');
    const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(byName)).toEqual(['cores', 'memory', 'disk', 'gpu', 'cvmfs', 'container', 'os', 'permissions', 'identity']);
    expect(byName.cores.value).toBe(availableParallelism());
    expect(byName.gpu.status).toBe(existsSync('/usr/bin/nvidia-smi') ? 'pass' : 'skip');
    expect(byName.cvmfs.detail).toBe(`none required; /cvmfs ${existsSync('/cvmfs') ? 'present' : 'absent'}`);
    expect(report.attributes).toMatchObject({ GLIDEIN_CPUS: availableParallelism(), DetectedGPUs: expect.anything(), HAS_SINGULARITY: expect.any(Boolean) });
  });

  it('counts only the CPUs in the process\'s affinity mask (taskset -c 0 gives 1 core)', async () => {
    const r = await run('taskset', ['-c', '0', NODE, CLI_TS, 'validate', '--format', 'json']);
    expect(r.code).toBe(0);
    const cores = JSON.parse(r.stdout).checks[0];
    expect(cores).toMatchObject({ name: 'cores', value: 1 });
    expect(cores.detail).toMatch(/^1 usable of \d+ \(affinity\)$/);
  });

  describe.skipIf(!IS_ROOT)('in a real cgroup with a CPU quota', () => {
    const v1 = '/sys/fs/cgroup/cpu';
    const dir = join(existsSync(join(v1, 'cgroup.procs')) ? v1 : '/sys/fs/cgroup', `glidein-validate-test-${process.pid}`);
    let made = false;
    try {
      mkdirSync(dir);
      if (dir.startsWith(v1)) writeFileSync(join(dir, 'cpu.cfs_quota_us'), '100000');
      else writeFileSync(join(dir, 'cpu.max'), '100000 100000');
      made = true;
    } catch {
      /* no writable cgroup hierarchy here: the test below is skipped */
    }
    afterAll(() => {
      if (made) rmdirSync(dir);
    });
    it.skipIf(!made)('reports the quota (1 CPU) as the usable cores', async () => {
      const r = await run('/bin/sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec "$2" "$3" validate --format json', 'sh', dir, NODE, CLI_TS]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).checks[0]).toMatchObject({ name: 'cores', value: 1, detail: expect.stringMatching(/cgroup v[12] quota 1 CPU\)$/) });
    });
  });

  it('a failed requirement exits 1 with status ERROR and the failing check marked fail with its category', async () => {
    const r = await validate(['--format', 'json', '--require', 'cores=100000', '--require', 'disk=1GB']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('ERROR');
    expect(report.checks[0]).toMatchObject({ name: 'cores', status: 'fail', required: 100000, failure: 'WN_Resource' });
    expect(report.checks[2]).toMatchObject({ name: 'disk', status: 'pass', required: 1e9 });
  });

  it.concurrent.each([
    [['--require', 'colour=blue'], /--require 'colour=blue': unknown requirement key 'colour'; expected one of cores=N/],
    [['--require', 'memory=8'], /--require 'memory=8' is not valid; expected a size with a unit/],
    [['--require', 'container=docker'], /--require 'container=docker' is not valid/],
    [['--format', 'yaml'], /--format 'yaml' is not valid; expected table, json, classad or xml/],
    [['--workdir', '/nonexistent/glidein'], /--workdir '\/nonexistent\/glidein' is not valid; expected an existing directory/],
    [['--bogus'], /unknown flag --bogus/],
  ])('%j is a usage error: exit 2 naming the input', async (args, message) => {
    const r = await validate(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('--format classad prints NAME = value lines only', async () => {
    const r = await validate(['--format', 'classad']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^[A-Za-z_]\w* = (True|False|-?\d+(\.\d+)?|"(?:[^"\\]|\\.)*")$/);
    expect(lines).toContain(`GLIDEIN_CPUS = ${availableParallelism()}`);
    expect(lines.some((l) => l.startsWith('GLIDEIN_MaxMemMBs = '))).toBe(true);
  });

  it('--format xml prints an OSGTestResult naming the failing check', async () => {
    const r = await validate(['--format', 'xml', '--require', 'gpus=1', '--workdir', '/tmp']);
    expect(r.code).toBe(existsSync('/usr/bin/nvidia-smi') ? 0 : 1);
    expect(r.stdout).toMatch(/^<\?xml version="1.0"\?>\n<OSGTestResult id="glidein_validate" version="4.3.1">/);
    if (r.code === 1) {
      expect(r.stdout).toMatch(/<metric name="failure" ts="[^"]+" uri="local">WN_Resource<\/metric>/);
      expect(r.stdout).toMatch(/<metric name="TestID" ts="[^"]+" uri="local">gpu<\/metric>/);
    }
    expect(r.stdout).toContain('<env name="cwd">/tmp</env>');
  });

  it('on a terminal prints the header first and each check as it completes, with its time', async () => {
    const pty = (await import('node-pty')).default;
    const term = pty.spawn(NODE, [CLI_TS, 'validate'], { cols: 250, rows: 40, env: process.env as Record<string, string> });
    const chunks: string[] = [];
    term.onData((d) => chunks.push(d));
    const code = await new Promise<number>((res) => term.onExit(({ exitCode }) => res(exitCode)));
    const lines = chunks.join('').split('\r\n').filter((l) => l !== '');
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^CHECK\s+STATUS/);
    const rows = lines.slice(1, 10);
    expect(rows.map((l) => l.split(/\s+/)[0]).sort()).toEqual(['container', 'cores', 'cvmfs', 'disk', 'gpu', 'identity', 'memory', 'os', 'permissions']);
    for (const row of rows) expect(row).toMatch(/\s\d+ms\s/);
    expect(lines.at(-1)).toMatch(/^OK in \d+ ms$/);
  });

  it('the default table (not on a terminal) prints every check and the outcome', async () => {
    const r = await validate([]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+STATUS/);
    expect(lines.slice(1, 10).map((l) => l.split(/\s+/)[0])).toEqual(['cores', 'memory', 'disk', 'gpu', 'cvmfs', 'container', 'os', 'permissions', 'identity']);
    expect(lines.at(-1)).toMatch(/^OK in \d+ ms$/);
  });
});

describe('glidein validate --policy (identity-switch self-test)', () => {
  let dir: string;
  let policy: string;
  const names = ['glvalidone', 'glvalidtwo'];
  const checksOf = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as { checks: { name: string }[] }).checks.map((c) => [c.name, c])) as Record<string, Record<string, unknown>>;

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'glidein-validate-policy-')));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'work'), { mode: 0o755 });
    // One account by iss,sub, one by group: the self-test covers every account the mapfile names.
    writeFileSync(join(dir, 'mapfile'), [`SCITOKENS /^https:\\/\\/iss\\.example,alice$/ ${names[0]}`, `GROUP https://iss.example /vo/pilot ${names[1]}`].join('\n') + '\n');
    // A real public key: validate loads every file the policy names up front (issue 26 item 4).
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })] }));
    policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ identity: 'setuid', mapfile: join(dir, 'mapfile'), issuers: { 'https://iss.example': { jwksFile: join(dir, 'jwks.json') } }, audience: 'https://ce.example' }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['--as without --policy', ['--as', 'glvalidone'], '--as needs --policy FILE'],
    ['an --as that is no account name', () => ['--policy', policy, '--as', 'bad/name'], "--as 'bad/name' is not valid"],
    ['a setuid policy without an audience', () => ['--policy', join(dir, 'no-audience.json')], "field 'audience' is required"],
  ])('%s is a usage or policy error (exit 2)', async (_what, args, message) => {
    writeFileSync(join(dir, 'no-audience.json'), JSON.stringify({ identity: 'setuid', mapfile: join(dir, 'mapfile'), issuers: { 'https://iss.example': { jwksFile: '/x.json' } } }));
    const r = await validate(typeof args === 'function' ? args() : args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  describe.skipIf(!IS_ROOT)('as root with two real accounts', () => {
    beforeAll(() => names.forEach((n) => ensureAccount(n)));
    afterAll(() => names.forEach((n) => removeAccount(n)));

    it('runs the test payload as every account the mapfile names, and the permissions check for them', async () => {
      const r = await validate(['--policy', policy, '--workdir', join(dir, 'work'), '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const checks = checksOf(r.stdout);
      expect(checks['identity']).toMatchObject({ status: 'pass', value: 2, required: 2, failure: null, detail: expect.stringMatching(new RegExp(`^setuid: ${names[0]} \\(uid \\d+.*${names[1]} \\(uid \\d+`)) });
      expect(checks['permissions']).toMatchObject({ status: 'pass', value: 2 });
    }, 60_000);

    it('fails as Config, naming the account and the step, for a work dir under a 0700 dir; --as picks the account', async () => {
      mkdirSync(join(dir, 'private', 'work'), { recursive: true });
      chmodSync(join(dir, 'private'), 0o700);
      const r = await validate(['--policy', policy, '--as', names[1]!, '--workdir', join(dir, 'private', 'work'), '--format', 'json']);
      expect(r.code).toBe(1);
      const checks = checksOf(r.stdout);
      expect(checks['identity']).toMatchObject({ status: 'fail', value: 0, required: 1, failure: 'Config', detail: `${names[1]}: step 'workdir': cannot search the work dir ${join(dir, 'private', 'work')}` });
      expect(checks['permissions']).toMatchObject({ status: 'fail', failure: 'Config', detail: expect.stringContaining(`${names[1]} cannot reach ${join(dir, 'private')}: mode 0700`) });
    }, 60_000);
  });
});
