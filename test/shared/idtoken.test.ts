// HTCondor IDTOKENs: signatures checked against an independent implementation of HTCondor's
// key derivation written here from INTEROP.md (not by calling shared/idtoken.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPoolKeyFile, readSigningKeyFile, signIdtoken, verifyIdtoken } from '../../shared/idtoken.ts';

/** HTCondor's derivation, step by step as INTEROP.md states it. */
function htcondorKey(file: Buffer, pool: boolean): Buffer {
  const mask = [0xde, 0xad, 0xbe, 0xef];
  const k = Buffer.from(file.map((b, i) => b ^ mask[i % 4]!));
  const ikm = pool ? Buffer.concat([k, k]) : k;
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.from('htcondor', 'ascii'), Buffer.from('master jwt', 'ascii'), 32));
}

function htcondorSignatureOk(token: string, file: Buffer): boolean {
  const [h, p, s] = token.split('.');
  const mac = createHmac('sha256', htcondorKey(file, true)).update(`${h}.${p}`).digest('base64url');
  return mac === s;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glidein-idtoken-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HTCondor IDTOKEN', () => {
  it('signs with the key HTCondor derives from a POOL key file', async () => {
    const path = join(dir, 'POOL');
    await createPoolKeyFile(path);
    const file = await readFile(path);
    const key = await readSigningKeyFile(path);
    const now = Math.floor(Date.now() / 1000);
    const token = signIdtoken(key, { iss: 'pool.example.org', sub: 'CE_A@pool.example.org', iat: now, exp: now + 3600, scope: 'condor:/READ condor:/ADVERTISE_STARTD condor:/ADVERTISE_MASTER' });
    expect(htcondorSignatureOk(token, file)).toBe(true);
    const [h, p] = token.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'HS256', kid: 'POOL' });
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims['jti']).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof claims['scope']).toBe('string');
  });

  it('does not verify under the undoubled key (the POOL rule matters)', async () => {
    const file = randomBytes(64);
    const path = join(dir, 'POOL2');
    await writeFile(path, file, { mode: 0o600 });
    const token = signIdtoken(await readSigningKeyFile(path), { iss: 'd', sub: 's@d', iat: 1, scope: 'condor:/READ' });
    const [h, p, s] = token.split('.');
    expect(createHmac('sha256', htcondorKey(file, false)).update(`${h}.${p}`).digest('base64url')).not.toBe(s);
    expect(htcondorSignatureOk(token, file)).toBe(true);
  });

  it('writes a new pool key as 64 scrambled bytes with mode 0600 and never overwrites one', async () => {
    const path = join(dir, 'POOL3');
    await createPoolKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path)).length).toBe(64);
    await expect(createPoolKeyFile(path)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
  });

  it.each([
    ['readable by group', 0o640],
    ['readable by others', 0o604],
  ])('refuses a key file %s', async (_what, mode) => {
    const path = join(dir, `POOL-${mode}`);
    await writeFile(path, randomBytes(64), { mode: 0o600 });
    await chmod(path, mode);
    await expect(readSigningKeyFile(path)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
  });

  it('refuses a missing key file naming it', async () => {
    await expect(readSigningKeyFile(join(dir, 'absent'))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE', message: expect.stringContaining('absent') });
  });

  it('verifies its own tokens and rejects tampered, expired and foreign ones', async () => {
    const path = join(dir, 'POOL4');
    await createPoolKeyFile(path);
    const key = await readSigningKeyFile(path);
    const now = Math.floor(Date.now() / 1000);
    const token = signIdtoken(key, { iss: 'pool.example.org', sub: 'x@pool.example.org', iat: now, exp: now + 60, scope: 'condor:/READ' });
    expect(verifyIdtoken(token, key, { trustDomain: 'pool.example.org' })['sub']).toBe('x@pool.example.org');
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: 'pool.example.org', sub: 'root@pool.example.org', iat: now, exp: now + 60, jti: 'a' })).toString('base64url')}.${s}`;
    expect(() => verifyIdtoken(tampered, key)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
    expect(() => verifyIdtoken(token, key, { now: now + 61 })).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
    expect(() => verifyIdtoken(token, key, { trustDomain: 'other.example.org' })).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
    expect(() => verifyIdtoken(`${h}.${p}`, key)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_MALFORMED' }));
  });
});
