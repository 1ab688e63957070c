// The identity self-test's own throwaway issuer (issue 15 part 3). The test payload must reach a
// chosen account through the sandbox path a job takes, and that path starts from a verified
// identity token. The site's issuers' private keys are not here, so the self-test signs a
// 5-minute token with a key made for this run, trusted (JWKS file) and mapped (one SCITOKENS
// line per account) only by a copy of the site policy that lives in a private temp dir for the
// run. Everything else in that copy (mode, helper template, limits) is the site's own.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { Policy } from '../sandbox/policy.ts';
import { exactIdentityLine } from '../sandbox/mapfile.ts';

export interface SelfTestSite {
  /** The site policy with the self-test's issuer, audience and mapfile in place of the site's. */
  policy: Policy;
  /** An identity token that this policy maps to `account`. */
  token(account: string): Promise<string>;
}

const ISSUER = 'https://identity-self-test.glidein.invalid';
const AUDIENCE = 'glidein-identity-self-test';

/** Write the issuer's key set and mapfile into `dir` (private to the agent) for `accounts`. */
export async function createSelfTestSite(site: Policy, dir: string, accounts: readonly string[]): Promise<SelfTestSite> {
  const kid = `self-test-${randomBytes(4).toString('hex')}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwksFile = join(dir, 'self-test-jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }), { mode: 0o600 });
  const mapfile = join(dir, 'self-test-mapfile');
  const lines = accounts.map((a) => exactIdentityLine(ISSUER, a, a));
  await writeFile(mapfile, lines.join('\n') + '\n', { mode: 0o600 });
  const policy: Policy = {
    ...site,
    issuers: { [ISSUER]: { jwksFile } },
    mapfile,
    audience: [AUDIENCE],
    requiredScope: [],
    source: `${site.source} (identity self-test)`,
  };
  const key: CryptoKey = privateKey;
  return {
    policy,
    token: (account) =>
      new SignJWT({ aud: AUDIENCE })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(ISSUER)
        .setSubject(account)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomBytes(16).toString('hex'))
        .sign(key),
  };
}
