// `glidein validate` and containers (issue 22), through the real CLI: with a working bubblewrap
// and the policy's test image the test container runs and HAS_SINGULARITY is claimed; with user
// namespaces off (max_user_namespaces = 0 in a user namespace of the test's own, so bwrap really
// cannot make one) the check fails as a WN_Resource problem; with no runtime at all it is skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { findExecutable, skipWithoutTool } from '../helpers/system-tools.ts';
import { buildBusyboxImage, skipWithoutBwrap } from '../helpers/container-image.ts';

let dir: string;
let policy: string;
let skip = false;

interface Report {
  checks: { name: string; status: string; value: unknown; detail: string; failure: string | null }[];
  attributes: Record<string, unknown>;
}

async function validate(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await runCli(['validate', '--format', 'json', ...args], { source: true, env });
  return { code: r.code, report: JSON.parse(r.stdout || '{"checks":[],"attributes":{}}') as Report, stderr: r.stderr };
}
const check = (r: Report) => r.checks.find((c) => c.name === 'container')!;

describe('glidein validate with a container runtime', () => {
  beforeAll(() => {
    skip = skipWithoutBwrap();
    dir = mkdtempSync(join(tmpdir(), 'glvalctr-'));
    if (skip) return;
    const image = buildBusyboxImage(join(dir, 'image'));
    policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ containers: { testImage: image } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the test container and claims HAS_SINGULARITY, naming the backend', async (ctx) => {
    if (skip) return ctx.skip();
    const { code, report, stderr } = await validate(['--policy', policy, '--require', 'container=bwrap']);
    expect(code, stderr).toBe(0);
    expect(check(report)).toMatchObject({ status: 'pass', failure: null });
    expect(check(report).detail).toContain('/bin/true ran in');
    expect(report.attributes).toMatchObject({ HAS_SINGULARITY: true, GLIDEIN_Container_Runtime: 'bwrap' });
  });

  it('with user namespaces off in its own user namespace, a required bwrap fails as WN_Resource and nothing is claimed', async (ctx) => {
    if (skip || skipWithoutTool('unshare', 'install util-linux')) return ctx.skip();
    const p = spawnSync(findExecutable('unshare')!, ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh',
      NODE, CLI_TS, 'validate', '--format', 'json', '--policy', policy, '--require', 'container=bwrap'], { encoding: 'utf8', timeout: 60_000 });
    expect(p.status, p.stderr).toBe(1);
    const report = JSON.parse(p.stdout) as Report;
    expect(check(report)).toMatchObject({ status: 'fail', failure: 'WN_Resource' });
    expect(report.attributes).toMatchObject({ HAS_SINGULARITY: false, HAS_UNPRIVILEGED_USER_NAMESPACES: false });
  });

  it('with no runtime on PATH the check is a skip and HAS_SINGULARITY is false', async (ctx) => {
    if (skip) return ctx.skip();
    const empty = join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: empty };
    delete env['APPTAINER_BIN'];
    delete env['SINGULARITY_BIN'];
    const { report, stderr } = await validate(['--policy', policy], env);
    expect(check(report), stderr).toMatchObject({ status: 'skip', value: 'none' });
    expect(report.attributes['HAS_SINGULARITY']).toBe(false);
  });
});
