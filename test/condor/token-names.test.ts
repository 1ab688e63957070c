// Token files HTCondor 25 would skip (LOCAL_CONFIG_DIR_EXCLUDE_REGEXP: *.sh, *.py, *.pl,
// *.dpkg-old, *.dpkg-dist, *.cfsaved besides dot files, '#…', '…~', rpm leftovers): the store
// refuses such names, so a C-CRED can never be written where the startd would not see it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredStore } from '../../agent/store/index.ts';
import { CONDOR_EXCLUDED_NAME } from '../../agent/store/cred-store.ts';
import { silentLogger } from '../../shared/log.ts';
import { unsignedJwt } from '../helpers/jwt.ts';

let dir: string;
let store: CredStore;
beforeAll(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'glcondor-names-')));
  store = await CredStore.open(dir, { log: silentLogger });
});
afterAll(async () => {
  await store.wipeAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('token file names HTCondor skips', () => {
  const jwt = unsignedJwt({ iss: 'pool.example.org', sub: 's', exp: Math.floor(Date.now() / 1000) + 600 }, { alg: 'HS256', kid: 'POOL' });
  it.each(['collector.sh', 'collector.py', 'collector.pl', 'collector.dpkg-old', 'collector.dpkg-dist', 'collector.cfsaved', 'x.rpmnew', '#x', 'x~'])('refuses %s', async (name) => {
    expect(CONDOR_EXCLUDED_NAME.test(name)).toBe(true);
    await expect(store.writeIdtoken(name, jwt)).rejects.toMatchObject({ code: 'GLIDEIN_ERR_STORE_NAME' });
  });
  it.each(['glidein-collector', 'glidein-ce', 'collector.shx', 'sh'])('accepts %s', async (name) => {
    expect(CONDOR_EXCLUDED_NAME.test(name)).toBe(false);
    await expect(store.writeIdtoken(name, jwt)).resolves.toBe(join(store.idtokenDir, name));
  });
});
