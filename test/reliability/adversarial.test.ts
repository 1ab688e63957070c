// 10 000 malformed or adversarial requests against the refresh service (its own process):
// random bytes on raw sockets, truncated and oversized JWTs, wrong and forged algorithms, private
// keys in the jwk, replayed proofs, spent tokens, foreign keys, wrong htu/htm/iat, bad bodies,
// bad admin tokens, later spent tokens under a stranger's key. Zero 5xx, zero crashes, zero
// acceptances; and the live pilots the attacks aimed at still refresh afterwards (a refused
// proof neither spends nor revokes; a spent token revokes only under the bound key).
import { afterAll, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createDpopProof, generateDpopKey, htuOf } from '../../shared/dpop.ts';
import { startServiceProcess, type Pilot, type ServiceProcess } from './fixture.ts';

const TOTAL = 10_000;
const RAW_SOCKETS = 400;
let svc: ServiceProcess | undefined;
afterAll(async () => svc?.cleanup());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Random bytes on a fresh TCP connection; the status line of whatever comes back, or 0. */
function rawGarbage(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve(m ? Number(m[1]) : 0);
    };
    sock.setTimeout(1500, done);
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', done);
    sock.on('close', done);
    sock.end(bytes);
  });
}

describe('adversarial requests', () => {
  it('10 000 malformed or adversarial requests get zero 5xx, zero acceptances, and the service and its pilots live on', async () => {
    // Every attack comes from 127.0.0.1, as do the honest refreshes between them: the per-address
    // limit on refusals is raised here (test/reliability/rsa-flood.test.ts exercises it).
    svc = await startServiceProcess({ rateLimit: { globalPerSecond: 1_000_000, globalBurst: 1_000_000, familyPerMinute: 6_000_000, familyBurst: 1_000_000, clientPerSecond: 1_000_000, clientBurst: 1_000_000 } });
    const s = svc;
    const htu = htuOf(s.refreshUrl);
    // Live, bound targets: the attacks carry their real tokens.
    const targets: Pilot[] = [];
    // Tokens of theirs spent by a later refresh (not the bundle's first: a second key presenting
    // that one revokes the family by design, issue 21 item 4, test/pilot/first-token-reuse.test.ts).
    const laterTokens: string[] = [];
    for (let i = 0; i < 8; i++) {
      const p = await s.register(`target-${i}`);
      for (let k = 0; k < 2; k++) {
        const r = await s.refresh(p);
        expect(r.status).toBe(200);
        if (k === 1) laterTokens.push(p.token);
        p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
      }
      targets.push(p);
    }
    // Families whose spent tokens are presented again (the first reuse revokes them).
    const spentTokens: { p: Pilot; spent: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const p = await s.register(`spent-${i}`);
      const spent = p.token;
      // Two refreshes: once its successor is used, `spent` is past any lost-answer grace.
      for (let k = 0; k < 2; k++) {
        const r = await s.refresh(p);
        expect(r.status).toBe(200);
        p.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
      }
      spentTokens.push({ p, spent });
    }
    // A pilot whose accepted proofs are replayed: each replay follows an honest refresh.
    const replayer = await s.register('replayer');
    const attacker = await generateDpopKey();
    let honest = 0;

    const pick = <T>(xs: T[], i: number): T => xs[i % xs.length]!;
    const proofFor = (p: Pilot, claims: { htm?: string; htu?: string; iat?: number } = {}) =>
      createDpopProof(p.key, { htm: claims.htm ?? 'POST', htu: claims.htu ?? htu, ...(claims.iat === undefined ? {} : { iat: claims.iat }) });
    const body = (token: string) => JSON.stringify({ refresh_token: token });
    const now = () => Math.floor(Date.now() / 1000);

    type Attack = (i: number) => Promise<number>;
    const attacks: Record<string, Attack> = {
      'truncated proof': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        return (await s.post('/v1/refresh', body(t.token), { dpop: proof.slice(0, 1 + (i * 7919) % (proof.length - 1)) })).status;
      },
      'oversized proof': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        return (await s.post('/v1/refresh', body(t.token), { dpop: proof + 'A'.repeat(8200 + (i % 3000)) })).status;
      },
      'alg none': async (i) => {
        const t = pick(targets, i);
        const jwk = t.key.publicJwk;
        return (await s.post('/v1/refresh', body(t.token), { dpop: `${b64({ alg: 'none', typ: 'dpop+jwt', jwk })}.${b64({ htm: 'POST', htu, iat: now(), jti: randomBytes(12).toString('hex') })}.` })).status;
      },
      'HS256 keyed with the public key': async (i) => {
        const t = pick(targets, i);
        const jwk = t.key.publicJwk as { x: string };
        const signingInput = `${b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: t.key.publicJwk })}.${b64({ htm: 'POST', htu, iat: now(), jti: randomBytes(12).toString('hex') })}`;
        const sig = createHmac('sha256', jwk.x).update(signingInput).digest('base64url');
        return (await s.post('/v1/refresh', body(t.token), { dpop: `${signingInput}.${sig}` })).status;
      },
      'RS256/ES384/EdDSA header over an ES256 key': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        const [h, p, sig] = proof.split('.') as [string, string, string];
        const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
        header['alg'] = pick(['RS256', 'ES384', 'EdDSA', 'PS256', 'ES256K', ''], i);
        return (await s.post('/v1/refresh', body(t.token), { dpop: `${b64(header)}.${p}.${sig}` })).status;
      },
      'private key in the jwk, wrong typ, no jwk': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        const [h, p, sig] = proof.split('.') as [string, string, string];
        const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
        const variant = i % 3;
        if (variant === 0) header['jwk'] = { ...(header['jwk'] as object), d: randomBytes(32).toString('base64url') };
        if (variant === 1) header['typ'] = 'JWT';
        if (variant === 2) delete header['jwk'];
        return (await s.post('/v1/refresh', body(t.token), { dpop: `${b64(header)}.${p}.${sig}` })).status;
      },
      'tampered claims under a valid signature': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        const [h, , sig] = proof.split('.') as [string, string, string];
        return (await s.post('/v1/refresh', body(t.token), { dpop: `${h}.${b64({ htm: 'POST', htu, iat: now(), jti: randomBytes(12).toString('hex') })}.${sig}` })).status;
      },
      "another key's proof for a bound token": async (i) => {
        const t = pick(targets, i);
        return (await s.post('/v1/refresh', body(t.token), { dpop: await createDpopProof(attacker, { htm: 'POST', htu }) })).status;
      },
      'wrong htu, htm, old or future iat': async (i) => {
        const t = pick(targets, i);
        const variant = i % 4;
        const proof = await proofFor(t, variant === 0 ? { htu: `${s.base}/v1/status` } : variant === 1 ? { htm: 'GET' } : variant === 2 ? { iat: now() - 3600 } : { iat: now() + 3600 });
        return (await s.post('/v1/refresh', body(t.token), { dpop: proof })).status;
      },
      'missing or doubled DPoP header': async (i) => {
        const t = pick(targets, i);
        const proof = await proofFor(t);
        return (await s.post('/v1/refresh', body(t.token), i % 2 ? {} : { dpop: [proof, proof] })).status;
      },
      'replayed accepted proof': async () => {
        const proof = await proofFor(replayer);
        const r = await s.refresh(replayer, proof);
        if (r.status !== 200) return 200; // would be a failure of the honest path: counted as an acceptance below
        honest++;
        replayer.token = (JSON.parse(r.body) as { refresh_token: string }).refresh_token;
        return (await s.post('/v1/refresh', body(replayer.token), { dpop: proof })).status;
      },
      "spent later token under a stranger's own key": async (i) => {
        const t = pick(targets, i);
        return (await s.refresh({ ...t, key: attacker }, undefined, pick(laterTokens, i))).status;
      },
      'spent token with a valid proof': async (i) => {
        const { p, spent } = pick(spentTokens, i);
        return (await s.refresh(p, undefined, spent)).status;
      },
      'unknown or malformed token': async (i) => {
        const t = pick(targets, i);
        const tokens = [randomBytes(32).toString('base64url'), 'x', '', 'A'.repeat(600), '../../etc/passwd', t.token.slice(0, 20)];
        return (await s.post('/v1/refresh', body(pick(tokens, i)), { dpop: await proofFor(t) })).status;
      },
      'bad bodies and content types': async (i) => {
        const t = pick(targets, i);
        const dpop = await proofFor(t);
        const bodies = ['', 'null', '[]', '{"refresh_token": 5}', '{', randomBytes(64).toString('latin1'), JSON.stringify({ refresh_token: [t.token] })];
        const variant = i % 9;
        if (variant === 7) return (await s.post('/v1/refresh', body(t.token), { dpop, 'content-type': 'text/plain' })).status;
        if (variant === 8) return (await s.post('/v1/refresh', 'x'.repeat(70_000), { dpop })).status;
        return (await s.post('/v1/refresh', pick(bodies, variant), { dpop })).status;
      },
      'admin endpoints and status without authority': async (i) => {
        const t = pick(targets, i);
        const variant = i % 3;
        if (variant === 0) return (await s.post('/v1/revoke', JSON.stringify({ glidein_id: t.id }), { authorization: `Bearer ${randomBytes(32).toString('base64url')}` })).status;
        if (variant === 1) return (await s.post('/v1/status', JSON.stringify({ glidein_id: t.id }), { dpop: await createDpopProof(attacker, { htm: 'POST', htu: `${s.base}/v1/status` }) })).status;
        return (await s.post(pick(['/v1/refresh/../revoke', '/v1/vo-credentials/x', '/nope', '/.well-known/../v1/revoke'], i), body(t.token), { dpop: await proofFor(t) })).status;
      },
    };

    const names = Object.keys(attacks);
    const tally: Record<string, Record<number, number>> = {};
    const count = (name: string, status: number) => {
      tally[name] ??= {};
      tally[name][status] = (tally[name][status] ?? 0) + 1;
    };
    // Raw garbage first, 50 connections at a time.
    for (let i = 0; i < RAW_SOCKETS; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, k) => rawGarbage(s.port, randomBytes(1 + ((i + k) * 131) % 4096))));
      for (const st of batch) count('random bytes (raw TCP)', st);
    }
    // Then the HTTP-level attacks, round-robin, 16 in flight (the replay chain runs on its own).
    let next = 0;
    const http = TOTAL - RAW_SOCKETS;
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (;;) {
        const i = next++;
        if (i >= http) return;
        const name = names[i % names.length]!;
        // The replay chain is sequential (each replay follows an honest refresh): worker 0 only.
        const attack = name === 'replayed accepted proof' && w !== 0 ? 'spent token with a valid proof' : name;
        let st: number;
        try {
          // Each attack gets its own running index, so its variants all come round.
          st = await attacks[attack]!(Math.floor(i / names.length));
        } catch (e) {
          st = -1;
          console.error(attack, e);
        }
        count(attack, st);
      }
    }));

    const all = Object.values(tally).flatMap((t) => Object.entries(t));
    const total = all.reduce((n, [, c]) => n + c, 0);
    expect(total).toBe(TOTAL);
    const accepted = all.filter(([st]) => Number(st) >= 200 && Number(st) < 300).reduce((n, [, c]) => n + c, 0);
    const serverErrors = all.filter(([st]) => Number(st) >= 500 || Number(st) === -1).reduce((n, [, c]) => n + c, 0);
    console.info(`adversarial: ${total} requests, ${honest} honest refreshes between replays; status counts per attack: ${JSON.stringify(tally)}`);
    expect({ accepted, serverErrors }).toEqual({ accepted: 0, serverErrors: 0 });
    expect(s.child.exitCode).toBeNull();
    expect(s.log.filter((l) => /"status":5\d\d|request failed/.test(l))).toEqual([]);
    // The targets' tokens were carried by thousands of refused requests and still work, once.
    for (const t of targets) expect((await s.refresh(t)).status).toBe(200);
    // The spent-token families are revoked (reuse detected), not merely refused.
    expect((await s.refresh(spentTokens[0]!.p)).status).toBe(401);
  }, 180_000);
});
