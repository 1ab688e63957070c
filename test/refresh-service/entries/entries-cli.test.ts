// `glidein refresh-service register` with factory entries, through the built executable: an
// unmet authMethod group and an unknown entry are usage errors (exit 2) naming what is wrong,
// and nothing is registered; a met one prints the bundle; bad entry config exits 2 naming the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateDpopKey } from '../../../shared/dpop.ts';
import { createPoolKeyFile, readSigningKeyFile, verifyIdtoken } from '../../../shared/idtoken.ts';
import { EXE } from '../../helpers/paths.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { makeSandbox, refresh, type Sandbox } from '../fixture.ts';

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

const register = (config: string, id: string, entry: string, url = 'http://127.0.0.1:9') =>
  runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', config, '--glidein-id', id, '--entry', entry, '--url', url]);

/** `refresh-service serve` on a free loopback port; resolves with its URL and a stop function. */
async function serve(config: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(EXE, ['refresh-service', 'serve', '--init', '--state', sb.stateDir, '--config', config, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    void closed.then((code) => reject(new Error(`serve exited ${code}`)));
  });
  return { url, stop: () => (child.kill('SIGTERM'), closed) };
}

describe('refresh-service register with entries (built executable)', () => {
  it('refuses a registration whose authMethod group is unmet with exit 2 naming the group and what is missing, registering nothing', async () => {
    const file = await configFile('unmet', { entries: { CE_A: { authMethod: 'scitoken;vmid,project_id', parameters: { VMType: 'm5.large' } } } });
    const r = await register(file, 'g-unmet', 'CE_A');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('group 2 (vmid,project_id) is not met');
    expect(r.stderr).toContain('no valid credential or parameter for vmid or project_id');
    expect(r.stdout).toBe('');
    // Nothing was written: the same id registers once the requirement can be met.
    const ok = await configFile('met', { entries: { CE_A: { authMethod: 'scitoken;vmid,project_id', parameters: { ProjectId: 'p-1' } } } });
    const again = await register(ok, 'g-unmet', 'CE_A');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ parameters: { ProjectId: 'p-1' }, auth_method: { groups: [{ method: 'scitoken' }, { method: 'project_id' }] } });
  });

  it("serves two trust domains from one process: each pilot's refreshed C-CRED verifies with its entry's POOL key only", async () => {
    const keyFiles = { a: join(sb.dir, 'a.POOL'), b: join(sb.dir, 'b.POOL') };
    await createPoolKeyFile(keyFiles.a);
    await createPoolKeyFile(keyFiles.b);
    const file = await configFile('domains', { entries: { A: { trustDomain: 'a.example', poolSigningKeyFile: keyFiles.a }, B: { trustDomain: 'b.example', poolSigningKeyFile: keyFiles.b } } });
    const s = await serve(file);
    try {
      for (const [entry, own, other, domain] of [['A', keyFiles.a, keyFiles.b, 'a.example'], ['B', keyFiles.b, keyFiles.a, 'b.example']] as const) {
        const r = await register(file, `g-exe-${entry}`, entry, s.url);
        expect(r.code, r.stderr).toBe(0);
        const got = await refresh(s.url, (JSON.parse(r.stdout) as { refresh_token: string }).refresh_token, await generateDpopKey());
        expect(got.status, JSON.stringify(got.body)).toBe(200);
        const ccred = (got.body['credentials'] as { purpose: string; token: string }[]).find((c) => c.purpose === 'collector')!.token;
        expect(verifyIdtoken(ccred, await readSigningKeyFile(own), { trustDomain: domain })['sub']).toBe(`${entry}@${domain}`);
        await expect(readSigningKeyFile(other).then((k) => verifyIdtoken(ccred, k))).rejects.toMatchObject({ code: 'GLIDEIN_ERR_TOKEN_INVALID' });
      }
    } finally {
      expect(await s.stop()).toBe(0);
    }
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
