// Identity tokens: the policy's `audience` and `requiredScope` are enforced (issue 11 item 6), and
// the verified claims reach the mapfile's GROUP / ENTITLEMENT / SCOPE lines (issue 15 part 2):
// real ES256 tokens checked against a JWKS file, real accounts and `glidein exec` as root.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, realpathSync, chmodSync, mkdirSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, exportJWK, SignJWT, type CryptoKey } from 'jose';
import { parsePolicy, type Policy } from '../../agent/sandbox/policy.ts';
import { verifyIdentityToken, resolveIdentity } from '../../agent/sandbox/identity.ts';
import { ensureAccount, removeAccount, IS_ROOT, type TestAccount } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';

const EGI = 'https://aai.egi.eu/auth/realms/egi';
const CMS = 'https://cms-auth.web.cern.ch/';
const AUD = 'https://ce.site.example:9619';
const ANY = 'https://wlcg.cern.ch/jwt/v1/any';
const BIOMED_PILOT = 'urn:mace:egi.eu:group:biomed:role=pilot#aai.egi.eu';

let dir: string;
let jwksFile: string;
let mapfile: string;
let key: CryptoKey;

function policy(extra: Record<string, unknown> = {}): Policy {
  return parsePolicy({ identity: 'setuid', mapfile, issuers: { [EGI]: { jwksFile }, [CMS]: { jwksFile } }, audience: AUD, ...extra }, 'policy.json');
}

function token(claims: Record<string, unknown>, iss = CMS, sub = 'b2a0e2e1-5f2c-4d0e'): Promise<string> {
  return new SignJWT({ 'wlcg.ver': '1.0', aud: AUD, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
    .setIssuer(iss)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .setJti(`j-${Math.random()}`)
    .sign(key);
}

beforeAll(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'glidein-identity-test-')));
  chmodSync(dir, 0o711);
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }));
  mapfile = join(dir, 'mapfile');
  writeFileSync(mapfile, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('audience and requiredScope', () => {
  it.each([
    ['the policy audience as a string', AUD, [AUD], null],
    ['a list naming the policy audience', [ANY, AUD], [AUD], null],
    ['one of several policy audiences', 'https://other.site', [AUD, 'https://other.site'], null],
    ['the WLCG "any" audience when the site did not list it', ANY, [AUD], `identity token aud claim "${ANY}" names none of the policy's audience`],
    ['the WLCG "any" audience when the site listed it', ANY, [AUD, ANY], null],
    ['a token for another service', 'https://fts.example.org', [AUD], 'aud claim "https://fts.example.org" names none'],
    ['no aud claim at all', undefined, [AUD], "identity token has no aud claim; the policy's audience is"],
  ])('%s: %s', async (_what, aud, audience, refusal) => {
    const v = await verifyIdentityToken(await token({ aud }), policy({ audience }));
    if (refusal === null) expect(v).toMatchObject({ ok: true, identity: { iss: CMS } });
    else expect(v).toMatchObject({ ok: false, reason: expect.stringContaining(refusal) });
  });

  it.each([
    ['carries it among others', 'compute.read compute.create', null],
    ['lacks it', 'compute.read storage.read:/', 'identity token scope claim lacks "compute.create"'],
    ['has a prefix of it only', 'compute', 'scope claim lacks "compute.create"'],
    ['has no scope claim', undefined, 'identity token has no scope claim'],
  ])('requiredScope compute.create: a token that %s', async (_what, scope, refusal) => {
    const v = await verifyIdentityToken(await token({ scope }), policy({ requiredScope: 'compute.create' }));
    if (refusal === null) expect(v.ok).toBe(true);
    else expect(v).toMatchObject({ ok: false, reason: expect.stringContaining(refusal) });
  });

  it('a refused audience holds the job as UNVERIFIED, permanent, before any mapping', async () => {
    const r = await resolveIdentity(await token({ aud: 'https://elsewhere.example' }), policy());
    expect(r).toMatchObject({ ok: false, error: { stage: 'identity', code: 'UNVERIFIED', permanent: true, message: expect.stringContaining('aud claim') } });
  });

  it('hands the groups, entitlements and scope items of the verified token to mapping', async () => {
    const v = await verifyIdentityToken(await token({ 'wlcg.groups': ['/cms', '/cms/pilot', 7], scope: 'compute.create  compute.read', eduperson_entitlement: BIOMED_PILOT }), policy());
    expect(v).toMatchObject({ ok: true, identity: { groups: ['/cms', '/cms/pilot'], scopes: ['compute.create', 'compute.read'], entitlements: [BIOMED_PILOT] } });
  });
});

describe.skipIf(!IS_ROOT)('mapping on groups and entitlements (real accounts)', () => {
  let pilot: TestAccount;
  let biomed: TestAccount;
  beforeAll(() => {
    pilot = ensureAccount('glidmappilot');
    biomed = ensureAccount('glidmapbiomed');
    writeFileSync(mapfile, [
      `GROUP ${CMS} /cms/pilot ${pilot.name}`,
      `ENTITLEMENT ${EGI} ${BIOMED_PILOT} ${biomed.name}`,
      `SCOPE ${CMS} compute.create ${biomed.name}`,
    ].join('\n') + '\n');
  });
  afterAll(() => {
    removeAccount(pilot.name);
    removeAccount(biomed.name);
  });

  it.each([
    ['a CMS IAM pilot token (wlcg.groups)', () => token({ 'wlcg.groups': ['/cms', '/cms/pilot'], scope: 'compute.create' }), () => pilot],
    ['an EGI Check-In token (eduperson_entitlement)', () => token({ eduperson_entitlement: ['urn:mace:egi.eu:group:biomed:role=member#aai.egi.eu', BIOMED_PILOT] }, EGI, 'e3b0c442@egi.eu'), () => biomed],
    ['a CMS token without the pilot group (by scope)', () => token({ 'wlcg.groups': ['/cms'], scope: 'compute.create' }), () => biomed],
  ])('%s maps to its account', async (_what, make, account) => {
    const r = await resolveIdentity(await make(), policy());
    expect(r).toMatchObject({ ok: true, account: { name: account().name, uid: account().uid } });
  });

  it('an EGI token of another community is UNMAPPED', async () => {
    const r = await resolveIdentity(await token({ eduperson_entitlement: 'urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu' }, EGI), policy());
    expect(r).toMatchObject({ ok: false, error: { code: 'UNMAPPED' } });
  });

  it('glidein exec runs an entitlement-mapped EGI job as its account, and holds one for another audience', async () => {
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ identity: 'setuid', mapfile, issuers: { [EGI]: { jwksFile } }, audience: AUD }));
    const out = join(dir, 'out');
    mkdirSync(out, { mode: 0o700 });
    chownSync(out, biomed.uid, biomed.gid);
    const job = async (id: string, aud: string) => {
      const p = join(dir, `${id}.json`);
      writeFileSync(p, JSON.stringify({ id, executable: '/usr/bin/id', args: ['-u'], stdout: join(out, id), identity: await token({ aud, eduperson_entitlement: [BIOMED_PILOT] }, EGI) }));
      const r = await runCli(['exec', '--job', p, '--policy', policyFile], { source: true });
      return { ...r, result: JSON.parse(r.stdout) as Record<string, unknown> };
    };
    const ok = await job('egi-ok', AUD);
    expect(ok.result, ok.stderr).toMatchObject({ state: 'completed', uid: biomed.uid });
    expect(readFileSync(join(out, 'egi-ok'), 'utf8').trim()).toBe(String(biomed.uid));
    const other = await job('egi-other-aud', 'https://storage.example');
    expect(other.code).toBe(3);
    expect(other.result).toMatchObject({ state: 'held', launchError: { code: 'UNVERIFIED', message: expect.stringContaining('aud claim "https://storage.example"') } });
  });
});

describe.skipIf(!IS_ROOT)('SCITOKENS lines as HTCondor reads them (real accounts, issue 24 part 3)', () => {
  let pilot: TestAccount;
  let biomed: TestAccount;
  beforeAll(() => {
    pilot = ensureAccount('glidmappilot');
    biomed = ensureAccount('glidmapbiomed');
    writeFileSync(mapfile, [
      String.raw`scitokens /^https:\/\/cms-auth\.web\.cern\.ch\/,(glidmap[a-z]+)$/ \1@users.htcondor.org # lower-case method, \1, a domain, a comment`,
      String.raw`SCITOKENS "https://cms-auth.web.cern.ch/,deadend" "not an account"`,
      `SCITOKENS /.*/ ${biomed.name}`,
    ].join('\r\n') + '\r\n');
  });
  afterAll(() => {
    removeAccount(pilot.name);
    removeAccount(biomed.name);
  });

  it('\\1 and the part before the last @ give the account', async () => {
    const r = await resolveIdentity(await token({}, CMS, pilot.name), policy());
    expect(r).toMatchObject({ ok: true, account: { name: pilot.name, uid: pilot.uid } });
  });

  it('a line whose account is no local name holds the job: the catch-all line after it is not used', async () => {
    const r = await resolveIdentity(await token({}, CMS, 'deadend'), policy());
    expect(r).toMatchObject({ ok: false, error: { code: 'NO_ACCOUNT', permanent: true, message: expect.stringMatching(/maps \(.*mapfile:2\) to "not an account", which is not a local account name/) } });
    expect(await resolveIdentity(await token({}, CMS, 'someone'), policy())).toMatchObject({ ok: true, account: { name: biomed.name } });
  });
});
