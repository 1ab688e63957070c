#!/usr/bin/env node
// Benchmark (issue 13 section 4): the floor under the refresh service's CPU per refresh. A bare
// node:http server that does exactly the crypto one refresh costs (the service's own functions,
// as ceiling.mjs runs them) and answers in the refresh protocol's shape, with nothing else: no
// state, no log, no router, no limits. The load generator (refresh.mjs --floor) drives it as it
// drives the real service; its CPU per refresh is what Node's HTTP server and the kernel's
// loopback TCP add to the crypto before the service does any work of its own.
// Usage: node scripts/bench/floor-server.mjs STATE_DIR CONFIG_FILE PORT (prints the port when listening).
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { verifyDpopProof } from '../../refresh-service/dpop-verify.ts';
import { mintIdtoken, mintScitoken } from '../../refresh-service/mint.ts';
import { hashRefreshToken, newRefreshToken } from '../../refresh-service/refresh-token.ts';
import { loadSigningKeys } from '../../refresh-service/signing-keys.ts';
import { ensureStateDir } from '../../refresh-service/state-dir.ts';
import { parseServiceConfig } from '../../refresh-service/config.ts';
import { readSigningKeyFile } from '../../shared/idtoken.ts';

const [stateDir, configFile, port] = process.argv.slice(2);
const config = parseServiceConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
await ensureStateDir(stateDir);
const mint = { config, issuer: config.publicUrl, poolKey: await readSigningKeyFile(config.poolSigningKeyFile), signingKeys: await loadSigningKeys(stateDir), store: undefined };
const htu = `${config.publicUrl}/v1/refresh`;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const v = await verifyDpopProof(req.headers['dpop'], { htm: 'POST', htu, now, window: 60, skew: 10 });
    if (!v.ok) {
      res.writeHead(401).end();
      return;
    }
    hashRefreshToken(body.refresh_token);
    createHash('sha256').update(v.jti).digest('base64url');
    const r = { glideinId: 'g', entry: 'CE_0', now, familyExpiresAt: now + 86400 };
    const credentials = [mintIdtoken(mint, r), mintScitoken(mint, r)];
    const next = newRefreshToken();
    hashRefreshToken(next);
    const text = JSON.stringify({ refresh_token: next, credentials, refresh_after: now + 60 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
