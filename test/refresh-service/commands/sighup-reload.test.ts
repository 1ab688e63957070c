// SIGHUP on 'refresh-service serve' under refresh load: a good new config takes effect (the
// S-CRED lifetime changes), a bad one (a malformed file, then a key that needs a restart) is
// refused with a log line and the running config kept; not one refresh fails meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwtUnverified } from '../../../shared/jwt-decode.ts';
import { parseRefreshResponse } from '../../../shared/protocol.ts';
import { CLI_TS, NODE } from '../../helpers/paths.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';
import { refreshAgain, startPilot, type DrivenPilot } from '../operator/pilot-driver.ts';

let sb: Sandbox;
let child: ChildProcess;
let stderr = '';
let configFile: string;
// The load is paced, not a closed loop: each pilot starts at most one refresh per PACE_MS, so
// the offered rate (4 x 20/s) stays under the family bucket (6000/min = 100/s, burst 100) on a
// machine of any speed. A closed loop did 958-1098 refreshes on a quiet 2-core machine and ran
// into its own rate limit (145-280 answers of 429).
const PACE_MS = 50;
const base = () => ({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, rateLimit: { familyPerMinute: 6000, familyBurst: 100 } });

beforeAll(async () => {
  sb = await makeSandbox();
  configFile = join(sb.dir, 'service.json');
  await writeFile(configFile, JSON.stringify({ ...base(), scitokenLifetime: 600 }));
  child = spawn(NODE, [CLI_TS, 'refresh-service', 'serve', '--init', '--state', sb.stateDir, '--config', configFile, '--listen', '127.0.0.1:0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
});
afterAll(async () => {
  child?.kill('SIGTERM');
  await sb?.cleanup();
});

async function serveUrl(): Promise<string> {
  let out = '';
  return new Promise((resolve) => child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
  }));
}

async function logLine(msg: string, after: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const line = stderr.slice(after).split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no '${msg}' log line; stderr: ${stderr.slice(after)}`);
}

const scredLifetime = (body: Record<string, unknown>) => {
  const c = parseRefreshResponse(body).credentials.find((x) => x.purpose === 'vo-service')!;
  const { exp, iat } = decodeJwtUnverified(c.token).claims as { exp: number; iat: number };
  return exp - iat;
};

describe('SIGHUP on serve', () => {
  it('applies a good config and refuses bad ones without a failed refresh under load', async () => {
    const url = await serveUrl();
    const pilots: DrivenPilot[] = [];
    for (let i = 0; i < 4; i++) pilots.push(await startPilot(sb, url, `hup-${i}`, 'CE'));
    const statuses: number[] = [];
    let stop = false;
    const load = pilots.map(async (p) => {
      while (!stop) {
        const started = Date.now();
        statuses.push((await refreshAgain(url, p)).status);
        const wait = PACE_MS - (Date.now() - started);
        if (wait > 0 && !stop) await new Promise((r) => setTimeout(r, wait));
      }
    });
    const reload = async (content: string, msg: string) => {
      const at = stderr.length;
      await writeFile(configFile, content);
      child.kill('SIGHUP');
      return logLine(msg, at);
    };
    // Each reload lands between refreshes in flight: wait for a round of the 4 pilots (the load's
    // own progress), not for a fixed time, so the count below holds on any machine.
    const aRound = async () => {
      const target = statuses.length + pilots.length;
      for (let i = 0; i < 600 && statuses.length < target; i++) await new Promise((r) => setTimeout(r, 25));
    };
    await aRound();
    expect(await reload(JSON.stringify({ ...base(), scitokenLifetime: 900 }), 'config reloaded')).toMatchObject({ level: 'info', changed: ['scitokenLifetime'] });
    await aRound();
    expect(await reload('{"trustDomain": ', 'config reload refused; the running config is kept')).toMatchObject({ level: 'error', file: configFile });
    const fixed = await reload(JSON.stringify({ ...base(), scitokenLifetime: 300, publicUrl: 'https://elsewhere.example.org' }), 'config reload refused; the running config is kept');
    expect(String(fixed['error'])).toMatch(/publicUrl cannot change while serving/);
    await aRound();
    stop = true;
    await Promise.all(load);
    console.log(`SIGHUP under load: ${statuses.length} refreshes, ${statuses.filter((s) => s !== 200).length} failed`);
    expect(statuses.length).toBeGreaterThanOrEqual(12); // at least the three rounds waited for
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const last = await refreshAgain(url, pilots[0]!);
    expect(scredLifetime(last.body)).toBe(900);
    expect(child.exitCode).toBeNull();
  }, 60_000);
});
