// A throwaway "site" for the demo and the pilot's tests: a token issuer (ES256 key, JWKS file),
// an HTCondor-style mapfile and a site policy, all in a private temporary directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exactIdentityLine } from '../sandbox/mapfile.ts';
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export interface DemoSite {
  issuer: string;
  policyPath: string;
  jwksPath: string;
  mapfilePath: string;
  /** The site's audit file (issue 25) in the site dir, when the site switches identity; else null. */
  auditFile: string | null;
  /** An identity token naming `sub` (iss + sub decide the account). */
  identityToken(sub: string, lifetimeS: number): Promise<string>;
  /** A WLCG-profile storage token (a J-CRED) for `sub`. */
  storageToken(sub: string, lifetimeS: number, scope?: string): Promise<string>;
}

export interface DemoSiteOptions {
  dir: string;
  identity: 'none' | 'setuid';
  /** sub → local account, written as mapfile lines. */
  accounts: Record<string, string>;
  killGraceSeconds?: number;
  credentialGraceSeconds?: number;
}

/** The audience of the demo site's identity tokens (policy key `audience`). */
export const SITE_AUDIENCE = 'https://site.demo.glidein.invalid';

export async function createDemoSite(o: DemoSiteOptions): Promise<DemoSite> {
  const issuer = 'https://issuer.demo.glidein.invalid';
  const kid = `demo-${randomBytes(4).toString('hex')}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwksPath = join(o.dir, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify({ keys: [jwk] }), { mode: 0o644 });
  const mapfilePath = join(o.dir, 'mapfile');
  const lines = Object.entries(o.accounts).map(([sub, account]) => exactIdentityLine(issuer, sub, account));
  writeFileSync(mapfilePath, lines.join('\n') + '\n', { mode: 0o644 });
  const policyPath = join(o.dir, 'policy.json');
  // The site's audit records go to a file of its own, not to this machine's syslog.
  const auditFile = o.identity === 'none' ? null : join(o.dir, 'audit', 'audit.log');
  writeFileSync(
    policyPath,
    JSON.stringify({
      identity: o.identity,
      // A setuid site names the audience its identity tokens are for; the non-root demo runs its
      // spool as the pilot itself, which a policy must allow knowingly (issue 11 items 6, 7).
      ...(o.identity === 'none' ? { allowPilotIdentity: true } : { audience: SITE_AUDIENCE }),
      mapfile: mapfilePath,
      issuers: { [issuer]: { jwksFile: jwksPath } },
      credentialGraceSeconds: o.credentialGraceSeconds ?? 5,
      killGraceSeconds: o.killGraceSeconds ?? 3,
      ...(auditFile ? { audit: { syslog: false, file: auditFile } } : {}),
    }),
    { mode: 0o644 },
  );
  const sign = (claims: Record<string, unknown>, sub: string, lifetimeS: number, key: CryptoKey = privateKey) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now - 1)
      .setExpirationTime(now + lifetimeS)
      .setJti(randomBytes(16).toString('hex'))
      .sign(key);
  };
  return {
    issuer,
    policyPath,
    jwksPath,
    mapfilePath,
    auditFile,
    identityToken: (sub, lifetimeS) => sign({ 'wlcg.ver': '1.0', aud: SITE_AUDIENCE }, sub, lifetimeS),
    storageToken: (sub, lifetimeS, scope = 'storage.read:/ storage.create:/demo') =>
      sign({ 'wlcg.ver': '1.0', aud: 'https://wlcg.cern.ch/jwt/v1/any', scope }, sub, lifetimeS),
  };
}
