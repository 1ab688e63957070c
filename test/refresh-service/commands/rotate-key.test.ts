// 'refresh-service rotate-key' against the state dir of a running service: the service signs
// with the new key and publishes it beside the old one; a wrong --state exits 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService } from '../../../refresh-service/index.ts';
import { decodeJwtUnverified } from '../../../shared/jwt-decode.ts';
import { parseRefreshResponse } from '../../../shared/protocol.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { refreshAgain, startPilot } from '../operator/pilot-driver.ts';

let sb: Sandbox;
let svc: RunningService;

beforeAll(async () => {
  ({ sb, svc } = await startSandboxService());
});
afterAll(() => stopSandboxService(svc, sb));

const jwksKids = async () => ((await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

describe('glidein refresh-service rotate-key', () => {
  it('makes a new signing key active in a running service, keeping the old one published', async () => {
    const pilot = await startPilot(sb, svc.url, 'rk-1', 'CE');
    const before = await jwksKids();
    const r = await runCli(['refresh-service', 'rotate-key', '--state', sb.stateDir], { source: true });
    expect(r.code, r.stderr).toBe(0);
    const { kid } = JSON.parse(r.stdout) as { kid: string; created_at: number };
    expect(before).not.toContain(kid);
    // The service picks the key up at its next look (about a second): wait for it to publish it.
    for (let i = 0; i < 150 && !(await jwksKids()).includes(kid); i++) await new Promise((res) => setTimeout(res, 100));
    const answer = await refreshAgain(svc.url, pilot);
    const scred = parseRefreshResponse(answer.body).credentials.find((c) => c.purpose === 'vo-service')!;
    expect(decodeJwtUnverified(scred.token).header['kid']).toBe(kid);
    expect(await jwksKids()).toEqual(expect.arrayContaining([kid, ...before]));
  });

  it('exits 2 naming a --state that is not there, and without --state or a database', async () => {
    const missing = await runCli(['refresh-service', 'rotate-key', '--state', '/nonexistent/state'], { source: true });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--state \/nonexistent\/state: no such directory/);
    const none = await runCli(['refresh-service', 'rotate-key'], { source: true });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --state DIR/);
  });
});
