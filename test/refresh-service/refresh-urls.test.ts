// The bundle's refresh_url from `register` (issue 13 section 2): one --url (or publicUrl) keeps the
// contract's string; a repeated --url lists the service's instances in failover order, each
// checked like publicUrl. Against two instances on one PostgreSQL, each with its own publicUrl
// (its DPoP htu base), the agent's refresher uses the first and fails over to the second with a
// proof for the second's URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';
import { createDpopProof, generateDpopKey, htuOf } from '../../shared/dpop.ts';
import { silentLogger } from '../../shared/log.ts';
import { parseBundle } from '../../shared/protocol.ts';
import { createHttpClient } from '../../agent/pilot/http-client.ts';
import { Refresher } from '../../agent/pilot/refresher.ts';
import { registerPilot, startRefreshService, type RunningService } from '../../refresh-service/index.ts';
import { freePort } from '../helpers/net.ts';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeSandbox, postJson, type Sandbox } from './fixture.ts';

let sb: Sandbox;
let configFile: string;
beforeAll(async () => {
  sb = await makeSandbox();
  configFile = join(sb.dir, 'service.json');
  await writeFile(configFile, JSON.stringify({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, publicUrl: 'https://rs.example.org/' }));
});
afterAll(async () => {
  await sb?.cleanup();
});

const register = (id: string, urls: string[]) =>
  runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', configFile, '--glidein-id', id, '--entry', 'CE', ...urls.flatMap((u) => ['--url', u])], { source: true });

async function refusal(url: string | string[], allowInsecureHttp = false): Promise<GlideinError> {
  try {
    await registerPilot({ stateDir: sb.stateDir, config: sb.config({ allowInsecureHttp }), glideinId: 'refused', entry: 'CE', url });
  } catch (e) {
    if (e instanceof GlideinError) return e;
    throw e;
  }
  throw new Error('register accepted the URLs');
}

describe('register --url', { timeout: 60_000 }, () => {
  it("writes the contract's single string for one URL, from publicUrl or from --url", async () => {
    const fromConfig = await register('url-1', []);
    expect(fromConfig.code, fromConfig.stderr).toBe(0);
    expect(JSON.parse(fromConfig.stdout)).toMatchObject({ refresh_url: 'https://rs.example.org' });
    const fromFlag = await register('url-2', ['https://a.example.org/']);
    expect(fromFlag.code, fromFlag.stderr).toBe(0);
    expect(JSON.parse(fromFlag.stdout)).toMatchObject({ refresh_url: 'https://a.example.org' });
  });

  it('lists every instance in the order given when --url is repeated, and the agent parses the list', async () => {
    const r = await register('url-3', ['https://b.example.org', 'https://a.example.org:8443/glidein/']);
    expect(r.code, r.stderr).toBe(0);
    const wire = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(wire['refresh_url']).toEqual(['https://b.example.org', 'https://a.example.org:8443/glidein']);
    expect(parseBundle(wire).refreshUrls).toEqual(['https://b.example.org', 'https://a.example.org:8443/glidein']);
  });

  it('exits 2 naming --url when it is given more than 8 times, and prints no bundle', async () => {
    const r = await register('url-4', Array.from({ length: 9 }, (_, i) => `https://rs${i}.example.org`));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--url given 9 times');
    expect(r.stdout).toBe('');
  });

  it.each([
    ['a clear-text URL to a non-loopback host among them', ['https://a.example.org', 'http://b.example.org'], 'GLIDEIN_ERR_CONFIG', "--url 'http://b.example.org' is http:// to a non-loopback host"],
    ['a URL with a query', ['https://a.example.org', 'https://b.example.org/?x=1'], 'GLIDEIN_ERR_USAGE', "--url 'https://b.example.org/?x=1': expected an http(s) URL without query or fragment"],
    ['a URL that is not http(s)', ['ftp://a.example.org'], 'GLIDEIN_ERR_USAGE', "--url 'ftp://a.example.org'"],
    ['the same instance twice', ['https://a.example.org', 'https://a.example.org/'], 'GLIDEIN_ERR_USAGE', "--url 'https://a.example.org' is given twice"],
  ])('refuses %s, naming it', async (_what, urls, code, message) => {
    const e = await refusal(urls);
    expect(e.code).toBe(code);
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(message);
  });

  it('accepts clear-text URLs to other hosts when allowInsecureHttp is set', async () => {
    const wire = await registerPilot({ stateDir: sb.stateDir, config: sb.config({ allowInsecureHttp: true }), glideinId: 'url-5', entry: 'CE', url: ['http://a.example.org', 'http://b.example.org'] });
    expect(wire.refresh_url).toEqual(['http://a.example.org', 'http://b.example.org']);
  });
});

const skipPg = skipWithoutPostgres();

describe.skipIf(skipPg)('a bundle listing two instances on one PostgreSQL, each with its own publicUrl', () => {
  let pg: PgCluster;
  let a: RunningService;
  let b: RunningService;
  let database: string;
  beforeAll(async () => {
    pg = await startPostgres();
    process.env['PGPASSWORD'] = pg.password;
    database = await pg.createDatabase('refresh_urls');
    const start = async (name: string) => {
      const port = await freePort();
      const config = sb.config({ database, publicUrl: `http://127.0.0.1:${port}` });
      return startRefreshService({ stateDir: join(sb.dir, `state-${name}`), config, listen: `127.0.0.1:${port}` });
    };
    a = await start('a');
    b = await start('b');
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  it('refreshes at the first instance, then at the second with a proof for its own URL once the first is down', { timeout: 60_000 }, async () => {
    const config = sb.config({ database });
    const bundle = parseBundle(await registerPilot({ stateDir: join(sb.dir, 'state-register'), config, glideinId: 'two-urls-1', entry: 'CE', url: [a.publicUrl, b.publicUrl] }));
    expect(bundle.refreshUrls).toEqual([a.publicUrl, b.publicUrl]);
    const refresher = new Refresher({
      bundle, key: await generateDpopKey(), store: { writePilot: () => undefined, writeIdtoken: () => undefined }, log: silentLogger,
      http: createHttpClient({ bundleCa: undefined, env: {}, timeoutMs: 10_000 }),
    });
    expect(await refresher.refresh()).toMatchObject({ ok: true });
    expect(refresher.refreshUrl).toBe(`${a.publicUrl}/v1/refresh`);
    await a.close();
    const out = await refresher.refresh();
    expect(out.ok, out.ok ? '' : out.error.message).toBe(true);
    expect(refresher.refreshUrl).toBe(`${b.publicUrl}/v1/refresh`);
    expect(await refresher.refresh()).toMatchObject({ ok: true });
  });

  it("refuses at one instance a proof made for the other's URL, and the token stays usable", { timeout: 60_000 }, async () => {
    const config = sb.config({ database });
    const wire = await registerPilot({ stateDir: join(sb.dir, 'state-register'), config, glideinId: 'two-urls-2', entry: 'CE', url: [b.publicUrl, 'http://127.0.0.1:9'] });
    const key = await generateDpopKey();
    const wrong = await postJson(`${b.url}/v1/refresh`, { refresh_token: wire.refresh_token }, { dpop: await createDpopProof(key, { htm: 'POST', htu: 'http://127.0.0.1:9/v1/refresh' }) });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'invalid_dpop_proof' });
    const right = await postJson(`${b.url}/v1/refresh`, { refresh_token: wire.refresh_token }, { dpop: await createDpopProof(key, { htm: 'POST', htu: htuOf(`${b.publicUrl}/v1/refresh`) }) });
    expect(right.status).toBe(200);
  });
});
