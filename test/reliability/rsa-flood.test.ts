// Unauthenticated CPU exhaustion (issue 11 item 12): attackers on another loopback address
// (127.0.0.2) send DPoP proofs with oversized RSA keys (16384-bit modulus, huge exponent) and
// with valid-looking 4096-bit ones, carrying the live pilots' real tokens, as fast as they can,
// while honest pilots on 127.0.0.1 refresh. 0 honest failures; the attackers are refused (401,
// then 429 from the per-address limit) and nothing else. Bounded in time, loopback only.
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { Agent, request } from 'node:http';
import { startServiceProcess, sleep, type Pilot, type ServiceProcess } from './fixture.ts';

const HONEST = 16;
const ATTACKERS = 24;
const DURATION_MS = 8000;
/** An honest refresh slower than this counts as a failure (half the agent's 30 s request timeout). */
const HONEST_DEADLINE_MS = 15_000;
let svc: ServiceProcess | undefined;
afterAll(async () => svc?.cleanup());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function postFrom(agent: Agent, url: string, body: string, dpop: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), dpop } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

describe('oversized RSA keys at a high rate', () => {
  it('costs honest pilots nothing: 0 honest failures while attackers flood from another address', async () => {
    svc = await startServiceProcess();
    const s = svc;
    const honest: Pilot[] = [];
    for (let i = 0; i < HONEST; i++) {
      const p = await s.register(`honest-${i}`);
      const r = await s.refresh(p);
      expect(r.status).toBe(200);
      p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
      honest.push(p);
    }
    const huge = { kty: 'RSA', n: Buffer.concat([Buffer.from([0xc5]), randomBytes(2047)]).toString('base64url'), e: randomBytes(256).toString('base64url') };
    const real4096 = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const jwk4096 = real4096.publicKey.export({ format: 'jwk' });
    const make = (big: boolean) => {
      const claims = { htm: 'POST', htu: s.refreshUrl, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url') };
      const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk: big ? huge : jwk4096 })}.${b64(claims)}`;
      const sig = big ? randomBytes(2048) : sign('sha256', Buffer.from(input), real4096.privateKey);
      return `${input}.${sig.toString('base64url')}`;
    };
    // Correctly signed 4096-bit proofs, made ahead (each one makes the service verify a 4096-bit
    // signature whether or not its jti was seen: the replay check comes after): the attackers'
    // rate is then not bounded by their own signing.
    const signed = Array.from({ length: 64 }, () => make(false));
    const proof = (i: number) => (i % 2 === 0 ? make(true) : signed[(i >> 1) % signed.length]!);
    const attackerAgent = new Agent({ keepAlive: true, maxSockets: ATTACKERS, localAddress: '127.0.0.2' });
    const attackStatuses: Record<number, number> = {};
    const honestResults = { ok: 0, failed: [] as string[], slowestMs: 0 };
    const deadline = Date.now() + DURATION_MS;
    const attackers = Array.from({ length: ATTACKERS }, async (_, w) => {
      for (let i = w; Date.now() < deadline; i += ATTACKERS) {
        const target = honest[i % HONEST]!;
        const st = await postFrom(attackerAgent, s.refreshUrl, JSON.stringify({ refresh_token: target.token }), proof(i));
        attackStatuses[st] = (attackStatuses[st] ?? 0) + 1;
      }
    });
    const pilots = honest.map(async (p) => {
      while (Date.now() < deadline) {
        const t0 = performance.now();
        const r = await s.refresh(p).catch((e: Error) => ({ status: -1, body: e.message }));
        const ms = performance.now() - t0;
        honestResults.slowestMs = Math.max(honestResults.slowestMs, ms);
        if (r.status !== 200 || ms > HONEST_DEADLINE_MS) {
          honestResults.failed.push(`${p.id}: ${r.status} in ${Math.round(ms)} ms`);
          return;
        }
        honestResults.ok++;
        p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
        await sleep(50);
      }
    });
    await Promise.all([...attackers, ...pilots]);
    attackerAgent.destroy();
    const attacks = Object.values(attackStatuses).reduce((a, b) => a + b, 0);
    console.info(`rsa flood: ${attacks} attack requests in ${DURATION_MS / 1000} s (${JSON.stringify(attackStatuses)}); ${honestResults.ok} honest refreshes, ${honestResults.failed.length} failed, slowest ${Math.round(honestResults.slowestMs)} ms`);
    expect(honestResults.failed).toEqual([]);
    expect(honestResults.ok).toBeGreaterThan(HONEST);
    expect(Object.keys(attackStatuses).sort()).toEqual(['401', '429']);
    expect(s.child.exitCode).toBeNull();
    // The honest pilots still hold working tokens: no attack spent or revoked anything.
    for (const p of honest) expect((await s.refresh(p)).status).toBe(200);
  }, 120_000);
});
