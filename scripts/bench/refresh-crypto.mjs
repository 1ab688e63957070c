// Exactly the crypto one refresh costs the service, with the service's own functions: the DPoP
// proof check (parse, ES256 verify, cached key and thumbprint), the presented token's hash, the
// jti hash the store takes, the C-CRED (HMAC IDTOKEN), the S-CRED (ES256) and the next token with
// its hash. ceiling.mjs runs it with no HTTP and no state (refreshCryptoCpuMs); floor-server.mjs
// runs it behind a bare node:http server (refreshFloorCpuMs): the same work in both by construction.
import { createHash } from 'node:crypto';
import { verifyDpopProof } from '../../refresh-service/dpop-verify.ts';
import { mintIdtoken, mintScitoken } from '../../refresh-service/mint.ts';
import { hashRefreshToken, newRefreshToken } from '../../refresh-service/refresh-token.ts';
import { loadSigningKeys } from '../../refresh-service/signing-keys.ts';
import { parseServiceConfig } from '../../refresh-service/config.ts';
import { readSigningKeyFile } from '../../shared/idtoken.ts';

/** The mint context of a service whose POOL key and state dir are given (the state dir must exist). */
export async function mintContext(poolKeyFile, stateDir, publicUrl) {
  const config = parseServiceConfig({ trustDomain: 'bench.example.org', poolSigningKeyFile: poolKeyFile, publicUrl }, 'bench');
  return { config, issuer: publicUrl, poolKey: await readSigningKeyFile(poolKeyFile), signingKeys: await loadSigningKeys(stateDir), store: undefined };
}

/** One refresh's crypto; throws on a refused proof. Returns the credentials and the next token. */
export async function refreshCrypto(ctx, proof, presentedToken, htu) {
  const now = Math.floor(Date.now() / 1000);
  const v = await verifyDpopProof(proof, { htm: 'POST', htu, now, window: 60, skew: 10 });
  if (!v.ok) throw new Error(v.reason);
  hashRefreshToken(presentedToken);
  createHash('sha256').update(v.jti).digest('base64url');
  const r = { glideinId: 'g', entry: 'CE_0', now, familyExpiresAt: now + 86400 };
  const credentials = [mintIdtoken(ctx, r), mintScitoken(ctx, r)];
  const next = newRefreshToken();
  hashRefreshToken(next);
  return { now, credentials, next };
}
