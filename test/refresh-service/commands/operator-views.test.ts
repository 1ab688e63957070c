// 'refresh-service pilots' and 'refresh-service entries' read the state of a running service:
// JSON for scripts (checked field by field), a table for people, exit 2 on bad flags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI_TS, NODE } from '../../helpers/paths.ts';
import { revokePilots, type RunningService } from '../../../refresh-service/index.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { report, startPilot, validationBody } from '../operator/pilot-driver.ts';

let sb: Sandbox;
let svc: RunningService;
let configFile: string;
const cli = (args: string[]) => runCli(['refresh-service', ...args], { source: true });

beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
  configFile = join(sb.dir, 'service.json');
  await writeFile(configFile, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile }));
  for (const n of [1, 2, 3]) {
    const p = await startPilot(sb, svc.url, `hole-${n}`, 'CE_X');
    await report(svc.url, p, validationBody('wn7.example.org', { check: 'disk', failure: 'WN_Resource' }));
  }
  const ok = await startPilot(sb, svc.url, 'fine-1', 'CE_Y');
  await report(svc.url, ok, { ...validationBody('wn8.example.org'), state: 'draining' });
  await revokePilots({ stateDir: sb.stateDir, glideinId: 'hole-3' });
});
afterAll(() => stopSandboxService(svc, sb));

describe('glidein refresh-service pilots / entries', () => {
  it('prints every pilot as JSON with status, binding, validation and node, filtered by entry and status', async () => {
    const r = await cli(['pilots', '--state', sb.stateDir, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const pilots = (JSON.parse(r.stdout) as { pilots: Record<string, unknown>[] }).pilots;
    expect(pilots.map((p) => [p['glidein_id'], p['status']])).toEqual([['hole-1', 'live'], ['hole-2', 'live'], ['hole-3', 'revoked'], ['fine-1', 'draining']]);
    expect(pilots[0]).toMatchObject({ entry: 'CE_X', bound: true, validation: 'ERROR', failed_check: 'disk', failure: 'WN_Resource', node: 'wn7.example.org' });
    expect(pilots[2]).toMatchObject({ revoked_reason: 'revoked by operator' });
    const revoked = await cli(['pilots', '--state', sb.stateDir, '--config', configFile, '--status', 'revoked', '--format', 'json']);
    expect((JSON.parse(revoked.stdout) as { pilots: { glidein_id: string }[] }).pilots.map((p) => p.glidein_id)).toEqual(['hole-3']);
    const y = await cli(['pilots', '--state', sb.stateDir, '--entry', 'CE_Y', '--format', 'json']);
    expect((JSON.parse(y.stdout) as { pilots: { glidein_id: string }[] }).pilots.map((p) => p.glidein_id)).toEqual(['fine-1']);
  });

  it('prints a table of pilots by default', async () => {
    const r = await cli(['pilots', '--state', sb.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^GLIDEIN ID\s+ENTRY\s+STATUS\s+REGISTERED\s+BOUND\s+LAST REFRESH\s+LAST HEARTBEAT\s+STATE\s+VALIDATION\s+NODE\s+REVOKED$/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^hole-1\s+CE_X\s+live\s+\S+Z\s+yes\s+.*ERROR disk \(WN_Resource\)\s+wn7\.example\.org\s+-$/);
  });

  it('pages a table longer than the terminal through $PAGER, and not when piped', async () => {
    const out = join(sb.dir, 'paged.txt');
    // A pseudo-terminal three rows high (script(1) from util-linux), with a pager that records its input.
    const cmd = `stty rows 3; ${NODE} ${CLI_TS} refresh-service pilots --state ${sb.stateDir}`;
    await promisify(execFile)('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, PAGER: `cat > ${out}` } });
    expect((await readFile(out, 'utf8')).split('\n')[0]).toMatch(/^GLIDEIN ID\s+ENTRY/);
    const piped = await runCli(['refresh-service', 'pilots', '--state', sb.stateDir], { source: true, env: { ...process.env, PAGER: 'false' } });
    expect(piped.stdout).toMatch(/^GLIDEIN ID/);
  });

  it('prints entries as JSON with failures, revocations and the black-hole flag', async () => {
    const r = await cli(['entries', '--state', sb.stateDir, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const entries = (JSON.parse(r.stdout) as { entries: Record<string, unknown>[] }).entries;
    expect(entries).toMatchObject([
      { entry: 'CE_X', pilots: { live: 2, revoked: 1 }, failed_validation: { hour: 3, day: 3 }, revoked: { hour: 1, day: 1 }, top_failure: 'WN_Resource', top_failure_node: 'wn7.example.org', black_hole: true, black_hole_nodes: ['wn7.example.org'] },
      { entry: 'CE_Y', pilots: { draining: 1 }, failed_validation: { day: 0 }, black_hole: false },
    ]);
    const table = await cli(['entries', '--state', sb.stateDir]);
    expect(table.stdout).toMatch(/^CE_X\s+2\s+3\/3\s+1\/1\s+.*WN_Resource\s+wn7\.example\.org\s+ENTRY wn7\.example\.org$/m);
  });

  it.each([
    [['pilots', '--state', '/nonexistent/state'], /--state \/nonexistent\/state: no state\.db there/],
    [['pilots', '--format', 'json'], /give --state DIR/],
    [['pilots', '--state', '.', '--status', 'asleep'], /--status 'asleep' is not valid; expected one of live, draining/],
    [['entries', '--state', '.', '--format', 'yaml'], /--format 'yaml' is not valid; expected table or json/],
  ])('exits 2 naming the bad input: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
