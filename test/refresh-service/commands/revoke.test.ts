// 'refresh-service revoke' never reports success for a name that matches nothing (issue 26
// item 4): an unknown --glidein-id or --entry exits 1 with GLIDEIN_ERR_NOT_FOUND naming it, an
// already revoked pilot answers {"revoked":0} with exit 0, and a --state that is not there exits
// 2 without creating it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { registerPilot } from '../../../refresh-service/index.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

let sb: Sandbox;
beforeAll(async () => {
  sb = await makeSandbox();
  for (const id of ['rv-a', 'rv-b']) await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: id, entry: 'CE_RV', url: 'http://127.0.0.1:1' });
});
afterAll(() => sb?.cleanup());

const revoke = (...args: string[]) => runCli(['refresh-service', 'revoke', ...args, '--log-format', 'json'], { source: true });

describe('refresh-service revoke', () => {
  it.each([
    [['--glidein-id', 'nope'], /no pilot with --glidein-id 'nope'/],
    [['--entry', 'CE_NOPE'], /no pilot of --entry 'CE_NOPE'/],
  ])('exits 1 with GLIDEIN_ERR_NOT_FOUND for %j', async (flags, message) => {
    const r = await revoke('--state', sb.stateDir, ...flags);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', code: 'GLIDEIN_ERR_NOT_FOUND' });
    expect(line['msg']).toMatch(message);
  });

  it('revokes a known pilot once, then answers revoked 0 with exit 0', async () => {
    const first = await revoke('--state', sb.stateDir, '--glidein-id', 'rv-a');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ revoked: 1 });
    const again = await revoke('--state', sb.stateDir, '--glidein-id', 'rv-a');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ revoked: 0 });
    const entry = await revoke('--state', sb.stateDir, '--entry', 'CE_RV');
    expect(JSON.parse(entry.stdout)).toEqual({ revoked: 1 });
    expect(JSON.parse((await revoke('--state', sb.stateDir, '--entry', 'CE_RV')).stdout)).toEqual({ revoked: 0 });
  });

  it('exits 2 for a --state dir that does not exist, and does not create it', async () => {
    const missing = `${sb.dir}/typo/state`;
    const r = await revoke('--state', missing, '--glidein-id', 'rv-b');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--state ${missing}: no such directory`);
    expect(existsSync(`${sb.dir}/typo`)).toBe(false);
  });
});
