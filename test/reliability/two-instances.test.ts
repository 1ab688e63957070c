// Two `serve` processes on one PostgreSQL (issue 13 section 2): 64 pilots with both URLs, each
// talking to one instance and failing over to the other on a connection error or a 5xx through
// the agent's own Endpoints, retrying the same token with a new proof. Instance A is SIGKILLed
// under load and restarted, then B: no pilot is lost, no token is spent twice, every token a
// pilot received works exactly once, and a spent token is refused by the other instance too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDpopProof, generateDpopKey, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { createPoolKeyFile, parseServiceConfig, registerPilot } from '../../refresh-service/index.ts';
import { Endpoints } from '../../agent/pilot/endpoints.ts';
import { parseBundle, STALE_PROOF_DESCRIPTION } from '../../shared/protocol.ts';
import { EXE } from '../helpers/paths.ts';
import { freePort } from '../helpers/net.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';

const PILOTS = 64;
const PHASE_MS = 1500;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const skip = skipWithoutPostgres();

interface Instance {
  name: string;
  base: string;
  configFile: string;
  child?: ChildProcess;
  agent: Agent;
  fivexx: number;
}

interface Pilot {
  id: string;
  key: DpopKey;
  token: string;
  /** Both instances' URLs, as the bundle's refresh_url list; the agent's failover order. */
  endpoints: Endpoints;
  /** Every token the pilot received (bundle first), and which ones got an answer (spent). */
  received: string[];
  spent: Set<string>;
  failovers: number;
  /** 401 stale_proof answers: a retry of a token whose lost answer was made for a proof of the same second; the agent retries those with a later proof. */
  staleRetries: number;
  refusals: string[];
}

let pg: PgCluster | undefined;
let dir = '';
const instances: Instance[] = [];

function post(inst: Instance, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${inst.base}${path}`, { method: 'POST', agent: inst.agent, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function startInstance(inst: Instance): Promise<void> {
  const port = new URL(inst.base).port;
  const child = spawn(EXE, ['--log-format', 'json', 'refresh-service', 'serve', '--init', '--state', join(dir, `state-${inst.name}`), '--config', inst.configFile, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PGPASSWORD: pg!.password },
  });
  inst.child = child;
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
    inst.fivexx += (d.toString().match(/"status":5\d\d/g) ?? []).length;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code, sig) => reject(new Error(`serve ${inst.name} exited ${code ?? sig}: ${tail}`)));
  });
}

async function killInstance(inst: Instance): Promise<void> {
  const child = inst.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  inst.agent.destroy();
  inst.agent = new Agent({ keepAlive: true, maxSockets: 64 });
}

function isStaleProof(body: string): boolean {
  try {
    return (JSON.parse(body) as { error_description?: string }).error_description === STALE_PROOF_DESCRIPTION;
  } catch {
    return false;
  }
}

/** One refresh as the agent does it: the instance in use first, the next on a connection error or 5xx; sticks to the one that answered. */
async function refreshOnce(p: Pilot): Promise<number> {
  for (let round = 0; round < 3; round++) {
    for (const [index, url] of p.endpoints.attempts('/v1/refresh')) {
      const inst = instances.find((i) => url.startsWith(i.base + '/'))!;
      const presented = p.token;
      try {
        const r = await post(inst, '/v1/refresh', JSON.stringify({ refresh_token: presented }), { dpop: await createDpopProof(p.key, { htm: 'POST', htu: htuOf(url) }) });
        if (r.status < 500) {
          p.endpoints.use(index);
          if (r.status === 200) {
            p.spent.add(presented);
            p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
            p.received.push(p.token);
            return r.status;
          }
          if (r.status === 401 && isStaleProof(r.body)) {
            // The answer to this token was lost (its instance was killed) and made for a proof of
            // this same second: the agent retries with a later proof (its backoff), so does this.
            p.staleRetries++;
            await sleep(1000 - (Date.now() % 1000) + 20);
            continue;
          }
          p.refusals.push(`${r.status} ${r.body}`);
          return r.status;
        }
      } catch {
        /* connection refused or cut: fail over */
      }
      p.failovers++;
    }
    await sleep(50 * (round + 1));
  }
  return 0;
}

describe.skipIf(skip)('two refresh-service instances on one PostgreSQL', () => {
  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'glidein-two-'));
  }, 120_000);
  afterAll(async () => {
    for (const inst of instances) {
      inst.child?.kill('SIGTERM');
      inst.agent.destroy();
    }
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no pilot and spends no token twice when each instance in turn is SIGKILLed under load and restarted', async () => {
    const database = await pg!.createDatabase('two_instances');
    const poolKeyFile = join(dir, 'POOL');
    await createPoolKeyFile(poolKeyFile);
    const common = {
      trustDomain: 'two.test', poolSigningKeyFile: poolKeyFile, issuer: 'https://rs.two.test', database, rotationGraceSeconds: 60,
      rateLimit: { globalPerSecond: 1_000_000, globalBurst: 1_000_000, familyPerMinute: 6_000_000, familyBurst: 1_000_000, clientPerSecond: 1_000_000, clientBurst: 1_000_000 },
    };
    for (const name of ['a', 'b']) {
      const base = `http://127.0.0.1:${await freePort()}`;
      const configFile = join(dir, `${name}.json`);
      // Each instance checks DPoP htu against its own URL; the S-CRED issuer is common.
      writeFileSync(configFile, JSON.stringify({ ...common, publicUrl: base }));
      instances.push({ name, base, configFile, agent: new Agent({ keepAlive: true, maxSockets: 64 }), fivexx: 0 });
    }
    await Promise.all(instances.map(startInstance));
    process.env['PGPASSWORD'] = pg!.password;
    const config = parseServiceConfig({ ...common, publicUrl: instances[0]!.base }, 'a.json');
    const started = Date.now();
    const pilots = await Promise.all(Array.from({ length: PILOTS }, async (_, i): Promise<Pilot> => {
      const wire = await registerPilot({ stateDir: join(dir, 'state-register'), config, glideinId: `two-${i}`, entry: 'TWO_CE' });
      // Both URLs in the bundle (half the pilots list A first, half B, so both carry load), read by the agent's parser.
      const urls = instances.map((x) => x.base);
      const bundle = parseBundle({ ...wire, refresh_url: i % 2 === 0 ? urls : [...urls].reverse() });
      const endpoints = new Endpoints(bundle.refreshUrls);
      return { id: `two-${i}`, key: await generateDpopKey(), token: bundle.refreshToken, endpoints, received: [bundle.refreshToken], spent: new Set(), failovers: 0, staleRetries: 0, refusals: [] };
    }));
    console.info(`two instances: ${PILOTS} pilots registered in ${Date.now() - started} ms`);

    let stop = false;
    const loops = pilots.map(async (p) => {
      while (!stop && (await refreshOnce(p)) === 200) await sleep(30 + Math.floor(Math.random() * 120));
    });
    const [a, b] = instances as [Instance, Instance];
    await sleep(PHASE_MS);
    await killInstance(a);
    await sleep(PHASE_MS);
    await startInstance(a);
    await sleep(PHASE_MS);
    await killInstance(b);
    await sleep(PHASE_MS);
    await startInstance(b);
    await sleep(PHASE_MS);
    stop = true;
    await Promise.all(loops);

    const refreshes = pilots.reduce((n, p) => n + p.spent.size, 0);
    const failovers = pilots.reduce((n, p) => n + p.failovers, 0);
    const staleRetries = pilots.reduce((n, p) => n + p.staleRetries, 0);
    // No pilot lost: nothing was refused, and every pilot's last token works now, on either instance.
    expect(pilots.flatMap((p) => p.refusals)).toEqual([]);
    const finals = await Promise.all(pilots.map((p) => refreshOnce(p)));
    expect(finals).toEqual(pilots.map(() => 200));
    // Every token a pilot received worked exactly once: all but the newest were spent by an answer.
    for (const p of pilots) expect(p.received.slice(0, -1).every((t) => p.spent.has(t)) && p.spent.size === p.received.length - 1).toBe(true);
    // No double spend: one live token per family, no family revoked.
    const db = pg!.connect('two_instances');
    const live = await db<{ n: number }[]>`SELECT count(*)::int AS n FROM refresh_tokens WHERE spent_at IS NULL GROUP BY glidein_id`;
    expect(live.map((r) => r.n)).toEqual(pilots.map(() => 1));
    expect((await db<{ n: number }[]>`SELECT count(*)::int AS n FROM families WHERE revoked_at IS NOT NULL`)[0]!.n).toBe(0);
    // A token whose successor was used is refused by either instance (shared state; bound key: the family dies).
    for (const p of pilots.filter((x) => x.received.length >= 3).slice(0, 8)) {
      p.endpoints.use(p.endpoints.attempts('/v1/refresh')[1]![0]);
      p.token = p.received.at(-3)!;
      expect(await refreshOnce(p)).toBe(401);
    }
    expect(instances.map((i) => i.fivexx)).toEqual([0, 0]);
    expect(refreshes).toBeGreaterThan(PILOTS * 4);
    console.info(`two instances: ${refreshes} refreshes, ${failovers} failovers, ${staleRetries} stale-proof retries, 2 SIGKILLs, 0 pilots lost, 0 double spends`);
  }, 180_000);
});
