// `glidein refresh-service register` with factory entries, through the built executable: an
// unmet authMethod group and an unknown entry are usage errors (exit 2) naming what is wrong,
// and nothing is registered; a met one prints the bundle; bad entry config exits 2 naming the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../helpers/run-cli.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

let sb: Sandbox;

beforeAll(async () => {
  sb = await makeSandbox();
});
afterAll(async () => {
  await sb?.cleanup();
});

async function configFile(name: string, config: Record<string, unknown>): Promise<string> {
  const file = join(sb.dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, ...config }));
  return file;
}

const register = (config: string, id: string, entry: string) =>
  runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', config, '--glidein-id', id, '--entry', entry, '--url', 'http://127.0.0.1:9']);

describe('refresh-service register with entries (built executable)', () => {
  it('refuses a registration whose authMethod group is unmet with exit 2 naming the group and what is missing, registering nothing', async () => {
    const file = await configFile('unmet', { entries: { CE_A: { authMethod: 'scitoken;vmid,project_id', parameters: { VMType: 'm5.large' } } } });
    const r = await register(file, 'g-unmet', 'CE_A');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('group 2 (vmid,project_id) is not met');
    expect(r.stderr).toContain('no valid credential for vmid or project_id');
    expect(r.stdout).toBe('');
    // Nothing was written: the same id registers once the requirement can be met.
    const ok = await configFile('met', { entries: { CE_A: { authMethod: 'scitoken;vmid,project_id', parameters: { ProjectId: 'p-1' } } } });
    const again = await register(ok, 'g-unmet', 'CE_A');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ parameters: { ProjectId: 'p-1' }, auth_method: { groups: [{ method: 'scitoken' }, { method: 'project_id' }] } });
  });

  it('refuses an entry the config does not name with exit 2 naming it', async () => {
    const file = await configFile('known', { entries: { CE_A: {}, CE_B: {} } });
    const r = await register(file, 'g-unknown', 'CE_Z');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("--entry 'CE_Z' is not configured");
    expect(r.stderr).toContain('CE_A, CE_B');
  });

  it.each([
    ['an unknown authMethod', { entries: { CE_A: { authMethod: 'scitoken;kerberos' } } }, 'entries.CE_A.authMethod'],
    ['an empty round-robin list', { entries: { CE_A: { parameters: { VMId: { roundRobin: [] } } } } }, 'entries.CE_A.parameters.VMId.roundRobin'],
    ['a client_credentials source naming no IdP', { entries: { CE_A: { credentials: { 'vo-service': { source: 'client_credentials', idp: 'nope' } } } } }, 'entries.CE_A.credentials.vo-service.idp'],
    ['a minted credential that cannot be minted', { entries: { CE_A: { credentials: { storage: { source: 'mint' } } } } }, 'entries.CE_A.credentials.storage.source'],
    ['a collector that is not host:port', { entries: { CE_A: { collector: ['collector.example'] } } }, 'entries.CE_A.collector[0]'],
    ['an IdP issuer over http to a remote host', { idps: { iam: { issuer: 'http://iam.example/', clientId: 'c', clientSecretFile: '/x' } } }, 'idps.iam.issuer'],
  ])('exits 2 naming the key for %s', async (_what, config, key) => {
    const r = await register(await configFile('bad', config), 'g-bad', 'CE_A');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(key);
  });
});
