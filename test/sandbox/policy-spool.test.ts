// `glidein run --spool` and the site policy (issue 11 item 7): a spool never runs without a policy,
// and never as the pilot's own uid unless the policy allows it knowingly. Through the real CLI.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.ts';

let dir: string;
let spool: string;
let bundle: string;

function policyFile(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-spool-policy-'));
  spool = join(dir, 'spool');
  mkdirSync(spool);
  writeFileSync(join(spool, 'job.json'), JSON.stringify({ id: 'job', executable: '/bin/true' }));
  // Never read: every refusal below comes before the bundle.
  bundle = join(dir, 'absent-bundle.json');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('run --spool and the site policy', () => {
  it('refuses a spool without --policy (exit 2, naming the flag), before anything runs', async () => {
    const r = await runCli(['run', '--bundle', bundle, '--spool', spool], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run: --spool needs --policy FILE');
  });

  it.each([
    ['identity none without allowPilotIdentity', { identity: 'none' }],
    ['allowPilotIdentity false', { identity: 'none', allowPilotIdentity: false }],
    ['a policy that names no mode (none by default)', {}],
  ])('refuses %s (exit 2, naming the keys)', async (_what, value) => {
    const r = await runCli(['run', '--bundle', bundle, '--spool', spool, '--policy', policyFile('p.json', value)], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.json: field 'identity' is 'none': spool jobs would run as the pilot's own uid.*"allowPilotIdentity": true/);
  });

  it('with allowPilotIdentity true it goes on (here to the missing bundle) after logging a warning', async () => {
    const r = await runCli(['--log-format', 'json', 'run', '--bundle', bundle, '--spool', spool, '--policy', policyFile('ok.json', { identity: 'none', allowPilotIdentity: true })], { source: true });
    const warning = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['level'] === 'warn');
    expect(warning).toMatchObject({ msg: expect.stringContaining("spool jobs run as the pilot's own uid"), policy: expect.stringContaining('ok.json') });
    expect(r.stderr).toContain('absent-bundle.json');
  });

  it('a one-command pilot (-- COMMAND) still needs no policy', async () => {
    const r = await runCli(['run', '--bundle', bundle, '--', '/bin/true'], { source: true });
    expect(r.stderr).not.toContain('--policy');
    expect(r.stderr).toContain('absent-bundle.json');
  });
});
