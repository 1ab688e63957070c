// Shared set-up for the refresh-service tests: a temporary state dir with a POOL key, a config,
// and a client that refreshes with real DPoP proofs over real HTTP.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDpopProof, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { createPoolKeyFile } from '../../shared/idtoken.ts';
import { parseServiceConfig, type ServiceConfig } from '../../refresh-service/config.ts';
import { startRefreshService, type RunningService } from '../../refresh-service/index.ts';
import type { Logger } from '../../shared/log.ts';

export interface Sandbox {
  dir: string;
  stateDir: string;
  poolKeyFile: string;
  config(extra?: Record<string, unknown>): ServiceConfig;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'glidein-rs-'));
  const poolKeyFile = join(dir, 'POOL');
  await createPoolKeyFile(poolKeyFile);
  return {
    dir,
    stateDir: join(dir, 'state'),
    poolKeyFile,
    config: (extra = {}) => parseServiceConfig({ trustDomain: 'pool.example.org', poolSigningKeyFile: poolKeyFile, ...extra }, 'test-config'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A sandbox and a service on a free loopback port, with the sandbox's default config. */
export async function startSandboxService(log?: Logger): Promise<{ sb: Sandbox; svc: RunningService }> {
  const sb = await makeSandbox();
  const svc = await startRefreshService({ stateDir: sb.stateDir, config: sb.config(), listen: '127.0.0.1:0', ...(log ? { log } : {}) });
  return { sb, svc };
}

/** Undo startSandboxService; either part may be missing after a failed set-up. */
export async function stopSandboxService(svc: RunningService | undefined, sb: Sandbox | undefined): Promise<void> {
  await svc?.close();
  await sb?.cleanup();
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

const lastIat = new WeakMap<DpopKey, number>();
/**
 * A proof iat newer than the key's earlier ones (up to 8 s ahead, inside the service's 10 s
 * clock skew): a pilot's next proof is seconds after its last, and the service refuses a spent
 * token's proof that is no newer than its successor's (issue 26 item 7).
 */
function nextIat(key: DpopKey): number {
  const now = Math.floor(Date.now() / 1000);
  const iat = Math.min(Math.max(now, (lastIat.get(key) ?? 0) + 1), now + 8);
  lastIat.set(key, iat);
  return iat;
}

/** POST /v1/refresh with a fresh proof from `key` (proof options overridable). */
export async function refresh(base: string, token: string, key: DpopKey, proof: { htu?: string; iat?: number; jti?: string } = {}): Promise<HttpAnswer> {
  const url = `${base}/v1/refresh`;
  const dpop = await createDpopProof(key, { htm: 'POST', htu: proof.htu ?? htuOf(url), iat: proof.iat ?? nextIat(key), ...(proof.jti === undefined ? {} : { jti: proof.jti }) });
  return postJson(url, { refresh_token: token }, { dpop });
}
