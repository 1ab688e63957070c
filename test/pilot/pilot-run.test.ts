// runPilot's wiring in-process: a scripted refresh service on loopback, a recording payload
// source. Order matters: the source starts only with valid credentials and after validation;
// a drain removes the refresh token and the DPoP key before the source is stopped; a drain
// signal during validation is not reported as a failed node.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPilot } from '../../agent/pilot/pilot.ts';
import { emptyCounts, type PayloadContext, type PayloadEnd, type PayloadSource } from '../../agent/pilot/payload-source.ts';
import type { ValidationOutcome } from '../../agent/pilot/validation.ts';
import { silentLogger } from '../../shared/log.ts';
import { bundleWire, json, opaqueToken, scriptedServer, testJwt, writeBundle } from '../fixtures/pilot/support.ts';

let dir: string;
let srv: Awaited<ReturnType<typeof scriptedServer>>;
/** Lifetime of the credentials the scripted service hands out. */
let lifetimeS = 600;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-pilot-run-unit-'));
  mkdirSync(join(dir, 'work'));
  lifetimeS = 600;
  srv = await scriptedServer((req, res) => {
    if (req.url === '/v1/status') return json(res, 200, {});
    const nowS = Math.floor(Date.now() / 1000);
    json(res, 200, {
      refresh_token: opaqueToken(),
      credentials: [{ type: 'idtoken', purpose: 'collector', token: testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + lifetimeS, jti: 'c'.repeat(32) }) }],
      refresh_after: nowS + 300,
    });
  });
});
afterEach(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

const ok: ValidationOutcome = { report: { status: 'OK', checks: [{ name: 'cores', status: 'pass', value: 2 }] }, xml: '<x/>', table: '' };

/** A payload source that records what the pilot asked of it. */
function recordingSource(onStart?: (ctx: PayloadContext) => void) {
  const calls: { what: string; args?: unknown[]; secretsOnDisk?: string[] }[] = [];
  let pilotDir = '';
  const source: PayloadSource = {
    kind: 'recording',
    done: new Promise<PayloadEnd>(() => {}),
    async start(ctx) {
      pilotDir = join(ctx.store.root, 'pilot');
      calls.push({ what: 'start', secretsOnDisk: readdirSync(pilotDir).filter((f) => f === 'refresh-token' || f === 'dpop-key').sort() });
      onStart?.(ctx);
    },
    retire: () => void calls.push({ what: 'retire' }),
    async stop(...args) {
      calls.push({ what: 'stop', args, secretsOnDisk: readdirSync(pilotDir).filter((f) => f === 'refresh-token' || f === 'dpop-key') });
    },
    counts: emptyCounts,
  };
  return { source, calls };
}

function options(source: PayloadSource, signal: AbortSignal, validate: () => Promise<ValidationOutcome>) {
  const nowS = Math.floor(Date.now() / 1000);
  const bundlePath = writeBundle(join(dir, 'b.json'), bundleWire({ refreshUrl: srv.url, nowS, ccredLifetimeS: -60 }));
  return {
    bundlePath, workdir: join(dir, 'work'), source, failureDelayS: 0, keepWorkdir: false, heartbeatIntervalS: 0, killGraceS: 7,
    env: {}, log: silentLogger, signal, validate, minFreeBytes: 0,
  };
}

describe('runPilot', () => {
  it('starts the source with valid credentials after validation, and at a drain removes the refresh secrets before stopping it', async () => {
    const abort = new AbortController();
    const { source, calls } = recordingSource(() => setTimeout(() => abort.abort({ signal: 'SIGTERM', fast: false }), 50));
    const summary = await runPilot(options(source, abort.signal, async () => ok));
    expect(summary).toMatchObject({ exitCode: 0, reason: 'signal', validation: 'OK', refreshes: 1 });
    expect(summary.credentialsReadyMs).not.toBeNull();
    expect(calls).toEqual([
      { what: 'start', secretsOnDisk: ['dpop-key', 'refresh-token'] },
      { what: 'stop', args: ['pilot-shutdown', 7], secretsOnDisk: [] },
    ]);
    expect(readdirSync(join(dir, 'work'))).toEqual([]);
  });

  it('refreshes again when validation outlasted the credentials, instead of starting payloads on expired ones', async () => {
    lifetimeS = 2;
    const abort = new AbortController();
    const { source, calls } = recordingSource(() => setTimeout(() => abort.abort({ signal: 'SIGTERM', fast: false }), 50));
    const summary = await runPilot(options(source, abort.signal, async () => {
      await new Promise((r) => setTimeout(r, 2_500));
      return ok;
    }));
    expect(summary).toMatchObject({ exitCode: 0, reason: 'signal', refreshes: 2 });
    expect(calls.map((c) => c.what)).toEqual(['start', 'stop']);
  });

  it('takes a drain signal during validation as a drain, not as a failed node: no failure report, exit 0', async () => {
    const abort = new AbortController();
    const { source, calls } = recordingSource();
    const summary = await runPilot(options(source, abort.signal, async () => {
      abort.abort({ signal: 'SIGHUP', fast: false });
      return { ...ok, report: { status: 'ERROR', checks: [{ name: 'cvmfs', status: 'fail', detail: 'interrupted' }] } };
    }));
    expect(summary).toMatchObject({ exitCode: 0, reason: 'signal' });
    expect(calls).toEqual([]);
    const reports = srv.requests.filter((r) => r.url === '/v1/status').map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(reports.some((r) => r['validation'] !== undefined)).toBe(false);
    expect(existsSync(join(dir, 'work'))).toBe(true);
  });
});
