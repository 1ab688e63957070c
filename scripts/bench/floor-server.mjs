#!/usr/bin/env node
// Benchmark (issue 13 section 4): the floor under the refresh service's CPU per refresh. A bare
// node:http server that does exactly the crypto one refresh costs (the service's own functions,
// as ceiling.mjs runs them) and answers in the refresh protocol's shape, with nothing else: no
// state, no log, no router, no limits. The load generator (refresh.mjs --floor) drives it as it
// drives the real service; its CPU per refresh is what Node's HTTP server and the kernel's
// loopback TCP add to the crypto before the service does any work of its own.
// Usage: node scripts/bench/floor-server.mjs STATE_DIR CONFIG_FILE PORT (prints the port when listening).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { ensureStateDir } from '../../refresh-service/state-dir.ts';
import { mintContext, refreshCrypto } from './refresh-crypto.mjs';

const [stateDir, configFile, port] = process.argv.slice(2);
const { poolSigningKeyFile, publicUrl } = JSON.parse(readFileSync(configFile, 'utf8'));
await ensureStateDir(stateDir);
const mint = await mintContext(poolSigningKeyFile, stateDir, publicUrl);
const htu = `${publicUrl}/v1/refresh`;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = JSON.parse(Buffer.concat(chunks).toString());
    let r;
    try {
      r = await refreshCrypto(mint, req.headers['dpop'], body.refresh_token, htu);
    } catch {
      res.writeHead(401).end();
      return;
    }
    const text = JSON.stringify({ refresh_token: r.next, credentials: r.credentials, refresh_after: r.now + 60 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
