// Factory entries in one service (issue 15 part 1): two trust domains with their own POOL keys,
// each C-CRED signed by its entry's key only; a CE-CRED beside the C-CRED; the collector list,
// parameters and authMethod record in the bundle; round-robin parameters across registrations
// and across a restart of the service; a family whose entry left the config gets nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateDpopKey } from '../../../shared/dpop.ts';
import { createPoolKeyFile, readSigningKeyFile, verifyIdtoken, type SigningKeyFile } from '../../../shared/idtoken.ts';
import { registerPilot, startRefreshService } from '../../../refresh-service/index.ts';
import type { ServiceConfig } from '../../../refresh-service/config.ts';
import { makeSandbox, refresh, type Sandbox } from '../fixture.ts';

let sb: Sandbox;
let globalKeyFile: string;
let t0KeyFile: string;
let ceKeyFile: string;
let keys: { global: SigningKeyFile; t0: SigningKeyFile; ce: SigningKeyFile; top: SigningKeyFile };

const entries = () => ({
  CE_Site_A: {
    trustDomain: 'cmsglobal.example',
    poolSigningKeyFile: globalKeyFile,
    collector: ['collector1.example:9618', 'collector2.example:9618'],
    authMethod: 'scitoken;vmid',
    parameters: { VMId: { roundRobin: ['vm1', 'vm2', 'vm3'] }, VMType: 'm5.large' },
    ceCollector: { trustDomain: 'ce.site-a.example', poolSigningKeyFile: ceKeyFile, scope: 'condor:/READ' },
  },
  T0_CE: { trustDomain: 'cmst0.example', poolSigningKeyFile: t0KeyFile },
});

beforeAll(async () => {
  sb = await makeSandbox();
  globalKeyFile = join(sb.dir, 'global.POOL');
  t0KeyFile = join(sb.dir, 't0.POOL');
  ceKeyFile = join(sb.dir, 'ce.POOL');
  for (const f of [globalKeyFile, t0KeyFile, ceKeyFile]) await createPoolKeyFile(f);
  keys = { global: await readSigningKeyFile(globalKeyFile), t0: await readSigningKeyFile(t0KeyFile), ce: await readSigningKeyFile(ceKeyFile), top: await readSigningKeyFile(sb.poolKeyFile) };
});
afterAll(async () => {
  await sb?.cleanup();
});

const register = (config: ServiceConfig, entry: string, url = 'http://127.0.0.1:9') =>
  registerPilot({ stateDir: sb.stateDir, config, glideinId: `g-${randomBytes(4).toString('hex')}`, entry, url });
const cred = (list: Record<string, unknown>[], purpose: string) => list.find((c) => c['purpose'] === purpose) as { token: string; type: string; expires_at: number } | undefined;

describe('entries with their own trust domains and POOL keys', () => {
  it("signs each entry's C-CRED with its own POOL key and iss, which the other keys do not verify", async () => {
    const config = sb.config({ entries: entries() });
    const a = await register(config, 'CE_Site_A');
    const t = await register(config, 'T0_CE');
    expect(a.trust_domain).toBe('cmsglobal.example');
    expect(t.trust_domain).toBe('cmst0.example');
    const ca = cred(a.credentials, 'collector')!.token;
    const ct = cred(t.credentials, 'collector')!.token;
    expect(verifyIdtoken(ca, keys.global, { trustDomain: 'cmsglobal.example' })['sub']).toBe('CE_Site_A@cmsglobal.example');
    expect(verifyIdtoken(ct, keys.t0, { trustDomain: 'cmst0.example' })['sub']).toBe('T0_CE@cmst0.example');
    for (const wrong of [keys.t0, keys.top, keys.ce]) expect(() => verifyIdtoken(ca, wrong)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
    for (const wrong of [keys.global, keys.top, keys.ce]) expect(() => verifyIdtoken(ct, wrong)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
  });

  it('keeps each pilot in its own domain on every refresh, with a CE-CRED from the CE key beside the C-CRED', async () => {
    const config = sb.config({ entries: entries() });
    const svc = await startRefreshService({ stateDir: sb.stateDir, config, listen: '127.0.0.1:0' });
    try {
      for (const [entry, key, domain] of [['CE_Site_A', keys.global, 'cmsglobal.example'], ['T0_CE', keys.t0, 'cmst0.example']] as const) {
        const b = await register(config, entry, svc.url);
        const r = await refresh(svc.url, b.refresh_token, await generateDpopKey());
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const creds = r.body['credentials'] as Record<string, unknown>[];
        expect(verifyIdtoken(cred(creds, 'collector')!.token, key, { trustDomain: domain })['iss']).toBe(domain);
        const ce = cred(creds, 'ce');
        if (entry === 'CE_Site_A') {
          expect(verifyIdtoken(ce!.token, keys.ce, { trustDomain: 'ce.site-a.example' })).toMatchObject({ scope: 'condor:/READ', sub: 'CE_Site_A@ce.site-a.example' });
          expect(() => verifyIdtoken(ce!.token, keys.global)).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_TOKEN_INVALID' }));
        } else {
          expect(ce).toBeUndefined();
        }
      }
    } finally {
      await svc.close();
    }
  });

  it('puts the collector list, parameters and the alternative that met each authMethod group into the bundle', async () => {
    const b = (await register(sb.config({ entries: entries() }), 'CE_Site_A')) as unknown as Record<string, unknown>;
    expect(b['collector']).toEqual(['collector1.example:9618', 'collector2.example:9618']);
    expect(b['parameters']).toMatchObject({ VMType: 'm5.large', VMId: expect.stringMatching(/^vm[123]$/) });
    expect(b['auth_method']).toEqual({
      requirement: 'scitoken;vmid',
      groups: [
        { group: 'scitoken', method: 'scitoken', purpose: 'vo-service' },
        { group: 'vmid', method: 'vmid' },
      ],
    });
  });

  it('refuses a refresh for a family whose entry left the config, spending nothing', async () => {
    const b = await register(sb.config({ entries: entries() }), 'T0_CE');
    const { T0_CE: _dropped, ...rest } = entries();
    const svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config({ entries: rest }), listen: '127.0.0.1:0' });
    try {
      const r = await refresh(svc.url, b.refresh_token, await generateDpopKey());
      expect(r).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect(String(r.body['error_description'])).toContain("entry 'T0_CE'");
    } finally {
      await svc.close();
    }
  });
});

describe('round-robin parameters', () => {
  it('hands out the items in turn across registrations and carries on after a restart', async () => {
    const own = await makeSandbox();
    try {
      const config = own.config({ entries: { RR: { parameters: { VMId: { roundRobin: ['vm1', 'vm2', 'vm3'] }, ProjectId: 'p-42' } } } });
      const one = async () => {
        const b = (await registerPilot({ stateDir: own.stateDir, config, glideinId: `g-${randomBytes(4).toString('hex')}`, entry: 'RR', url: 'http://127.0.0.1:9' })) as unknown as { parameters: Record<string, string> };
        return b.parameters['VMId'];
      };
      const seen = [await one(), await one()];
      // Each registration opens and closes the state: a running service is not needed, and a
      // service started now (and stopped) does not reset the turn.
      const svc = await startRefreshService({ stateDir: own.stateDir, config, listen: '127.0.0.1:0' });
      await svc.close();
      seen.push(await one(), await one(), await one());
      expect(seen).toEqual(['vm1', 'vm2', 'vm3', 'vm1', 'vm2']);
    } finally {
      await own.cleanup();
    }
  });
});
