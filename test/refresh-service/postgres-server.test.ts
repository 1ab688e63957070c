// Two refresh services (one address in front of them: the same publicUrl) on one PostgreSQL:
// a pilot registered through one refreshes at the other, a DPoP proof used at one is a replay
// at the other, the first instance's admin token works at both, and a signing-key rotation by
// one is published and used by the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDpopProof, generateDpopKey } from '../../shared/dpop.ts';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { registerPilot, startRefreshService, type RunningService, type ServiceConfig } from '../../refresh-service/index.ts';
import { rotateSharedSigningKey } from '../../refresh-service/state/postgres-context.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeSandbox, postJson, type Sandbox } from './fixture.ts';
import postgres from 'postgres';
import { STALE_PROOF_DESCRIPTION } from '../../shared/protocol.ts';

const skip = skipWithoutPostgres();
const PUBLIC = 'https://rs.example.test';

describe.skipIf(skip)('refresh services sharing one PostgreSQL', () => {
  let pg: PgCluster;
  let sb: Sandbox;
  let config: ServiceConfig;
  let a: RunningService;
  let b: RunningService;
  beforeAll(async () => {
    pg = await startPostgres();
    process.env['PGPASSWORD'] = pg.password;
    sb = await makeSandbox();
    config = sb.config({ database: await pg.createDatabase('servers'), publicUrl: PUBLIC, rotationGraceSeconds: 0 });
    a = await startRefreshService({ stateDir: join(sb.dir, 'state-a'), config, listen: '127.0.0.1:0' });
    b = await startRefreshService({ stateDir: join(sb.dir, 'state-b'), config, listen: '127.0.0.1:0' });
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
    await sb?.cleanup();
  });

  /** POST /v1/refresh to `svc` with a proof for the shared public URL. */
  const refreshAt = async (svc: RunningService, token: string, dpop: string) => postJson(`${svc.url}/v1/refresh`, { refresh_token: token }, { dpop });
  const proof = (key: Awaited<ReturnType<typeof generateDpopKey>>) => createDpopProof(key, { htm: 'POST', htu: `${PUBLIC}/v1/refresh` });

  it('refreshes at either instance and refuses at one a token spent at the other', async () => {
    const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-1', entry: 'CE' });
    const key = await generateDpopKey();
    const first = await refreshAt(b, bundle.refresh_token, await proof(key));
    expect(first.status).toBe(200);
    const second = await refreshAt(a, first.body['refresh_token'] as string, await proof(key));
    expect(second.status).toBe(200);
    const reuse = await refreshAt(b, first.body['refresh_token'] as string, await proof(key));
    expect(reuse.status).toBe(401);
    expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
  });

  it('rotates once when both instances get the same token at the same moment (the other is refused; equal iat: never undoes the answer)', async () => {
    const key = await generateDpopKey();
    for (let i = 0; i < 10; i++) {
      const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: `pg-race-${i}`, entry: 'CE_RACE' });
      const [x, y] = await Promise.all([refreshAt(a, bundle.refresh_token, await proof(key)), refreshAt(b, bundle.refresh_token, await proof(key))]);
      expect([x.status, y.status].sort()).toEqual([200, 401]);
      expect((x.status === 401 ? x : y).body).toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('a slow instance never undoes a newer answer: A, with the older proof, commits after B and is refused; the pilot lives (issue 26 item 7)', async () => {
    const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-slow', entry: 'CE' });
    const key = await generateDpopKey();
    const first = await refreshAt(a, bundle.refresh_token, await proof(key));
    expect(first.status).toBe(200);
    const token = first.body['refresh_token'] as string;
    // A's proof is older than B's (the pilot's request to A timed out; it retried at B).
    const older = await proof(key);
    await new Promise((r) => setTimeout(r, 1100));
    const newer = await proof(key);
    // Hold the family's row lock, queue B first, then A: B commits first, A after it.
    const sql = postgres(config.database!, { max: 2, onnotice: () => undefined });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = sql.begin(async (tx) => {
      await tx`SELECT 1 FROM families WHERE glidein_id = 'pg-slow' FOR UPDATE`;
      locked();
      await held;
    });
    await isLocked;
    const waiting = async (n: number) => {
      for (;;) {
        const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`;
        if (row!.n >= n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const atB = refreshAt(b, token, newer);
      await waiting(1);
      const atA = refreshAt(a, token, older);
      await waiting(2);
      release();
      await holder;
      const [rb, ra] = await Promise.all([atB, atA]);
      expect(rb.status).toBe(200);
      expect(ra).toMatchObject({ status: 401, body: { error: 'invalid_grant', error_description: STALE_PROOF_DESCRIPTION } });
      // The answer the pilot holds (B's) works, and so does its next one.
      const next = await refreshAt(a, rb.body['refresh_token'] as string, await proof(key));
      expect(next.status).toBe(200);
      expect((await refreshAt(b, next.body['refresh_token'] as string, await proof(key))).status).toBe(200);
    } finally {
      release();
      await sql.end();
    }
  });

  it('refuses at one instance a DPoP proof already used at the other', async () => {
    const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-2', entry: 'CE' });
    const key = await generateDpopKey();
    const dpop = await proof(key);
    const ok = await refreshAt(a, bundle.refresh_token, dpop);
    expect(ok.status).toBe(200);
    const replay = await refreshAt(b, ok.body['refresh_token'] as string, dpop);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it("accepts the first instance's admin token at both and the second's own token at neither", async () => {
    const first = (await readFile(join(sb.dir, 'state-a', 'admin.token'), 'utf8')).trim();
    const own = (await readFile(join(sb.dir, 'state-b', 'admin.token'), 'utf8')).trim();
    await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-3', entry: 'CE_ADMIN' });
    const refused = await postJson(`${b.url}/v1/revoke`, { entry: 'CE_ADMIN' }, { authorization: `Bearer ${own}` });
    expect(refused.status).toBe(401);
    const done = await postJson(`${b.url}/v1/revoke`, { entry: 'CE_ADMIN' }, { authorization: `Bearer ${first}` });
    expect(done).toMatchObject({ status: 200, body: { revoked: 1 } });
  });

  it('registers and revokes from the command line with --config, and the services refuse the revoked pilot', async () => {
    const file = join(sb.dir, 'rs.json');
    await writeFile(file, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, database: config.database, publicUrl: PUBLIC }));
    const env = { ...process.env, PGPASSWORD: pg.password };
    const reg = await runCli(['refresh-service', 'register', '--state', join(sb.dir, 'state-cli'), '--config', file, '--glidein-id', 'pg-cli', '--entry', 'CE_CLI'], { source: true, env });
    expect(reg.code, reg.stderr).toBe(0);
    const token = (JSON.parse(reg.stdout) as { refresh_token: string }).refresh_token;
    const rev = await runCli(['refresh-service', 'revoke', '--state', join(sb.dir, 'state-cli'), '--config', file, '--glidein-id', 'pg-cli'], { source: true, env });
    expect(rev.code, rev.stderr).toBe(0);
    expect(JSON.parse(rev.stdout)).toEqual({ revoked: 1 });
    const r = await refreshAt(a, token, await proof(await generateDpopKey()));
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('revoked') });
  });

  it('answers 5xx, never a refusal, while PostgreSQL is down, and refreshes again once it is back', async () => {
    const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-outage', entry: 'CE' });
    const key = await generateDpopKey();
    pg.pause();
    try {
      for (const svc of [a, b]) {
        const r = await refreshAt(svc, bundle.refresh_token, await proof(key));
        expect(r.status).toBeGreaterThanOrEqual(500);
      }
    } finally {
      pg.start();
    }
    const r = await refreshAt(b, bundle.refresh_token, await proof(key));
    expect(r.status).toBe(200);
  });

  it('publishes and signs with a key rotated by another instance within about a second', async () => {
    const jwks = async (svc: RunningService) => ((await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks(b);
    expect(await jwks(a)).toEqual(before);
    const rotated = await rotateSharedSigningKey(config);
    // The other instance picks the key up at its next look (about a second): wait for it.
    for (let i = 0; i < 150 && !(await jwks(b)).includes(rotated.kid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await jwks(b)).toEqual([rotated.kid, ...before].slice(0, 3));
    const bundle = await registerPilot({ stateDir: join(sb.dir, 'state-a'), config, glideinId: 'pg-4', entry: 'CE' });
    const r = await refreshAt(b, bundle.refresh_token, await proof(await generateDpopKey()));
    const scitoken = (r.body['credentials'] as { type: string; token: string }[]).find((c) => c.type === 'scitoken');
    expect(decodeJwtUnverified(scitoken!.token).header['kid']).toBe(rotated.kid);
  });
});
