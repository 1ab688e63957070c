// The `entries` and `idps` config keys (issue 15): all optional, today's config unchanged; an
// entry inherits every top-level key it leaves out; an IdP secret must be a 0600 file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseServiceConfig } from '../../../refresh-service/config.ts';
import { openServiceContext } from '../../../refresh-service/context.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

let sb: Sandbox;
beforeAll(async () => {
  sb = await makeSandbox();
});
afterAll(async () => {
  await sb?.cleanup();
});

describe('entries config', () => {
  it('leaves a config without entries as it was: no entries, no idps', () => {
    expect(sb.config()).toMatchObject({ entries: {}, idps: {} });
  });

  it('fills what an entry leaves out from the top-level keys, and keeps what it sets', () => {
    const c = sb.config({ entries: { A: {}, B: { trustDomain: 'b.example', collector: 'cm.b.example:9618', parameters: { VMType: 'm5.large' } } } });
    expect(c.entries['A']).toMatchObject({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, collector: [], authMethod: '', authRequirement: null, parameters: {}, credentials: {} });
    expect(c.entries['B']).toMatchObject({ trustDomain: 'b.example', poolSigningKeyFile: sb.poolKeyFile, collector: ['cm.b.example:9618'], parameters: { VMType: { value: 'm5.large' } } });
  });

  it('takes an empty parameter value, as GlideinWMS does (issue 24 section 2), and an authMethod it can evaluate', () => {
    const c = sb.config({ entries: { A: { authMethod: 'scitoken+vm_id', parameters: { VMId: '', VMType: { roundRobin: ['', 'm5'] } } } } });
    expect(c.entries['A']).toMatchObject({ authRequirement: [['scitoken'], ['vm_id']], parameters: { VMId: { value: '' }, VMType: { roundRobin: ['', 'm5'] } } });
  });

  it.each([
    [{ entries: { A: { authMethod: 'scitoken; vmid' } } }, 'spaces around the name'],
    [{ entries: { A: { parameters: { VMId: 7 } } } }, 'entries.A.parameters.VMId: expected a JSON object'],
    [{ entries: { A: { colector: [] } } }, "unknown key 'entries.A.colector'"],
    [{ entries: { 'bad name': {} } }, 'entries: expected entry names'],
    [{ entries: { A: { parameters: { 'VM-Id': 'x' } } } }, 'entries.A.parameters: expected parameter names'],
    [{ entries: { A: { credentials: { collector: { source: 'forward' } } } } }, 'entries.A.credentials.collector.source'],
    [{ entries: { A: { ceCollector: { trustDomain: 'ce.example' } } } }, 'entries.A.ceCollector.poolSigningKeyFile'],
    [{ idps: { iam: { issuer: 'https://iam.example/', clientSecretFile: '/x' } } }, 'idps.iam.clientId'],
  ])('refuses %j naming the key', (extra, message) => {
    expect(() => parseServiceConfig({ poolSigningKeyFile: sb.poolKeyFile, ...extra }, 'svc.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining(message) }));
  });

  it('refuses to open when an IdP client secret file is readable by others, or an entry POOL key is missing', async () => {
    const secret = join(sb.dir, 'idp.secret');
    await writeFile(secret, 's3cret\n');
    await chmod(secret, 0o644);
    const idps = { iam: { issuer: 'https://iam.example/', clientId: 'c', clientSecretFile: secret } };
    await expect(openServiceContext(sb.stateDir, sb.config({ idps }))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE', message: expect.stringContaining('0600') });
    await chmod(secret, 0o600);
    const ctx = await openServiceContext(sb.stateDir, sb.config({ idps }));
    await ctx.store.close();
    await expect(openServiceContext(sb.stateDir, sb.config({ entries: { A: { poolSigningKeyFile: join(sb.dir, 'missing.POOL') } } }))).rejects.toMatchObject({ message: expect.stringContaining('missing.POOL') });
  });
});
