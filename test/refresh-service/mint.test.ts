// The S-CRED as a real relying party sees it: scitokens-cpp's scitokens-verify accepts it
// offline with the service's public key, and refuses it under another issuer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registerPilot, loadSigningKeys, publicKeyPem, rotateSigningKey } from '../../refresh-service/index.ts';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { makeSandbox, type Sandbox } from './fixture.ts';
import { skipWithoutTool } from '../helpers/system-tools.ts';

const run = promisify(execFile);
const ISSUER = 'https://factory.example.org';
let sb: Sandbox;

async function scitokensVerify(token: string, issuer: string, kid: string, pem: string): Promise<{ code: number; out: string }> {
  const cache = await mkdtemp(join(tmpdir(), 'glidein-scitokens-cache-'));
  const pemFile = join(cache, 'pub.pem');
  await writeFile(pemFile, pem);
  try {
    const r = await run('scitokens-verify', ['--cred', pemFile, '--issuer', issuer, '--keyid', kid, token], { env: { ...process.env, XDG_CACHE_HOME: cache }, timeout: 20_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  sb = await makeSandbox();
});
afterAll(async () => {
  await sb?.cleanup();
});

describe('S-CRED', () => {
  const noScitokens = skipWithoutTool('scitokens-verify', "install Debian's scitokens-cpp (apt-get install scitokens-cpp)");
  it.skipIf(noScitokens)('is a WLCG-profile ES256 token that scitokens-verify accepts, and refuses under another issuer', async () => {
    const config = sb.config({ issuer: ISSUER, publicUrl: 'https://factory.example.org:8443', scitoken: { scope: 'compute.read compute.create', audience: 'https://ce.example.org' } });
    const bundle = await registerPilot({ stateDir: sb.stateDir, config, glideinId: 'sc-1', entry: 'CE_X' });
    const s = bundle.credentials.find((c) => c['purpose'] === 'vo-service')!['token'] as string;
    const { header, claims } = decodeJwtUnverified(s);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(claims).toMatchObject({ 'wlcg.ver': '1.0', iss: ISSUER, sub: 'CE_X@pool.example.org', aud: 'https://ce.example.org', scope: 'compute.read compute.create' });
    for (const k of ['iat', 'nbf', 'exp', 'jti']) expect(claims).toHaveProperty(k);
    const keys = await loadSigningKeys(sb.stateDir);
    expect(header['kid']).toBe(keys.active.kid);
    const pem = publicKeyPem(keys.active);
    const good = await scitokensVerify(s, ISSUER, keys.active.kid, pem);
    expect(good.code, good.out).toBe(0);
    const bad = await scitokensVerify(s, 'https://other.example.org', keys.active.kid, pem);
    expect(bad.code).not.toBe(0);
  });

  it('is signed by the new key after a rotation while the old key stays published', async () => {
    const before = await loadSigningKeys(sb.stateDir);
    const rotated = await rotateSigningKey(sb.stateDir);
    const after = await loadSigningKeys(sb.stateDir);
    expect(after.active.kid).toBe(rotated.kid);
    expect(after.published.map((k) => k.kid)).toContain(before.active.kid);
    const bundle = await registerPilot({ stateDir: sb.stateDir, config: sb.config({ publicUrl: ISSUER }), glideinId: 'sc-2', entry: 'CE_X' });
    const s = bundle.credentials.find((c) => c['purpose'] === 'vo-service')!['token'] as string;
    expect(decodeJwtUnverified(s).header['kid']).toBe(rotated.kid);
  });

  it('puts the C-CRED claims HTCondor expects', async () => {
    const bundle = await registerPilot({ stateDir: sb.stateDir, config: sb.config({ publicUrl: ISSUER, idtokenLifetime: 600 }), glideinId: 'sc-3', entry: 'CE_Y' });
    const c = bundle.credentials.find((x) => x['type'] === 'idtoken')!;
    const { header, claims } = decodeJwtUnverified(c['token'] as string);
    expect(header).toEqual({ alg: 'HS256', kid: 'POOL' });
    expect(claims).toMatchObject({ iss: 'pool.example.org', sub: 'CE_Y@pool.example.org', scope: 'condor:/READ condor:/ADVERTISE_STARTD condor:/ADVERTISE_MASTER' });
    expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(600);
  });
});

describe('VO credentials', () => {
  it('hands a pushed VO token only to families that outlive it (issue 11 item 15)', async () => {
    const { SqliteStateStore } = await import('../../refresh-service/state/sqlite-store.ts');
    const { mintCredentials } = await import('../../refresh-service/mint.ts');
    const local = await makeSandbox();
    const store = new SqliteStateStore(local.dir, { sealKey: Buffer.alloc(32, 7) });
    try {
      const now = Math.floor(Date.now() / 1000);
      await store.putVoCredential({ name: 'cms', token: 'vo.jwt.token', expiresAt: now + 3600, updatedAt: now });
      const config = local.config({ voCredentials: { CE_VO: 'cms' } });
      const ctx = { config, issuer: ISSUER, poolKey: { kid: 'POOL', key: Buffer.alloc(32, 1) }, signingKeys: await loadSigningKeys(local.stateDir), store } as Parameters<typeof mintCredentials>[0];
      const purposes = async (familyExpiresAt: number) => (await mintCredentials(ctx, { glideinId: 'g', entry: 'CE_VO', now, familyExpiresAt })).map((c) => `${c.purpose}:${c.expires_at <= familyExpiresAt}`);
      expect(await purposes(now + 7200)).toEqual(['collector:true', 'vo-service:true']);
      expect(await purposes(now + 1800)).toEqual(['collector:true']);
    } finally {
      await store.close();
      await local.cleanup();
    }
  });
});
