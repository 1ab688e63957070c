// Entry parameters from the bundle (issue 15): parsed and checked with the bundle, and exported
// to the node's validation as GLIDEIN_<name> (GlideinWMS's GLIDEIN_VMId, GLIDEIN_ProjectId …).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPilot } from '../../agent/pilot/pilot.ts';
import { emptyCounts, type PayloadEnd, type PayloadSource } from '../../agent/pilot/payload-source.ts';
import type { ValidationOutcome } from '../../agent/pilot/validation.ts';
import { parseBundle } from '../../shared/protocol.ts';
import { silentLogger } from '../../shared/log.ts';
import { bundleWire, json, opaqueToken, scriptedServer, testJwt, writeBundle } from '../fixtures/pilot/support.ts';

let dir: string;
let srv: Awaited<ReturnType<typeof scriptedServer>>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-bundle-params-'));
  mkdirSync(join(dir, 'work'));
  srv = await scriptedServer((req, res) => {
    if (req.url === '/v1/status') return json(res, 200, {});
    const nowS = Math.floor(Date.now() / 1000);
    json(res, 200, { refresh_token: opaqueToken(), credentials: [{ type: 'idtoken', purpose: 'collector', token: testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + 600, jti: 'c'.repeat(32) }) }], refresh_after: nowS + 300 });
  });
});
afterEach(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

const wire = (parameters?: unknown) => ({ ...bundleWire({ refreshUrl: 'http://127.0.0.1:9', nowS: 1_900_000_000 }), ...(parameters === undefined ? {} : { parameters }) });

describe('bundle parameters', () => {
  it('parses parameters (none when absent) and refuses names that cannot be env suffixes or multi-line values', () => {
    expect(parseBundle(wire()).parameters).toEqual({});
    expect(parseBundle(wire({ VMId: 'vm2', ProjectId: 'p-42' })).parameters).toEqual({ VMId: 'vm2', ProjectId: 'p-42' });
    for (const bad of [{ 'VM-Id': 'x' }, { '1st': 'x' }, { VMId: 'a\nGLIDEIN_X=y' }, { VMId: 3 }, ['VMId']]) {
      expect(() => parseBundle(wire(bad)), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_BUNDLE' }));
    }
  });

  it('exports them to validation as GLIDEIN_<name> beside the pilot environment', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const bundlePath = writeBundle(join(dir, 'b.json'), { ...bundleWire({ refreshUrl: srv.url, nowS }), parameters: { VMId: 'vm2', VMType: 'm5.large' } });
    const abort = new AbortController();
    let seen: NodeJS.ProcessEnv | undefined;
    const validate = async (_r: string[], _w: string, env: NodeJS.ProcessEnv): Promise<ValidationOutcome> => {
      seen = env;
      abort.abort({ signal: 'SIGTERM', fast: false });
      return { report: { status: 'OK', checks: [] }, xml: '<x/>', table: '' };
    };
    const source: PayloadSource = { kind: 'none', done: new Promise<PayloadEnd>(() => {}), async start() {}, retire() {}, async stop() {}, counts: emptyCounts };
    await runPilot({ bundlePath, workdir: join(dir, 'work'), source, failureDelayS: 0, keepWorkdir: false, heartbeatIntervalS: 0, killGraceS: 7, env: { PATH: '/usr/bin' }, log: silentLogger, signal: abort.signal, validate, minFreeBytes: 0 });
    expect(seen).toMatchObject({ PATH: '/usr/bin', GLIDEIN_VMId: 'vm2', GLIDEIN_VMType: 'm5.large' });
  });
});
