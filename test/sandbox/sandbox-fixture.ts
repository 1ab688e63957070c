// Shared setup for the sandbox tests: real accounts, an issuer key with its JWKS file, a
// mapfile, policies for each mode, and job spec files — all in one temp dir, removed afterwards.
import { mkdtempSync, writeFileSync, chmodSync, chownSync, rmSync, mkdirSync, realpathSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, exportJWK, SignJWT, type CryptoKey } from 'jose';
import { beforeAll, afterAll } from 'vitest';
import { IS_ROOT, ensureAccount, removeAccount, type TestAccount } from '../helpers/accounts.ts';
import { findExecutable, skipWithout, skipWithoutTool } from '../helpers/system-tools.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';

export const ISSUER = 'https://issuer.example.org';

/**
 * The helper that helper-mode tests use: sudo (the default policy's helper) where it is
 * installed; otherwise, as root, util-linux's runuser, which every EL/Debian node has. Found
 * on the test's PATH (so a PATH without sudo exercises the runuser case). null: none usable.
 */
export const HELPER: string[] | null = (() => {
  const sudo = findExecutable('sudo');
  if (sudo) return [sudo, '-n', '-u', '{user}', '--'];
  const runuser = IS_ROOT ? findExecutable('runuser') : undefined;
  return runuser ? [runuser, '-u', '{user}', '--'] : null;
})();

/** True (after printing why) when helper-mode tests must skip; a failure under GLIDEIN_TEST_REQUIRE_TOOLS. */
export function skipHelperMode(): boolean {
  return skipWithout('a helper (sudo, or util-linux runuser as root)', HELPER !== null, 'install sudo (apt-get install sudo / dnf install sudo) or run the tests as root');
}
/** The audience the fixture's policies accept and its tokens carry (policy key `audience`). */
export const AUDIENCE = 'https://site.example.org';

export interface SandboxFixture {
  dir: string;
  users: { a: TestAccount; b: TestAccount };
  policies: { none: string; setuid: string; helper: string };
  /** A policy file with overrides. */
  policy(fields: Record<string, unknown>): string;
  token(claims: { sub: string; iss?: string; exp?: number; nbf?: number; aud?: string | string[]; extra?: Record<string, unknown> }, forged?: boolean): Promise<string>;
  /** Write a job spec file; returns its path. */
  job(spec: Record<string, unknown>): string;
  /** A fresh work dir for a job, owned by `owner`. */
  workdir(owner?: TestAccount): string;
  cleanup(): void;
}

let counter = 0;

export async function makeFixture(names: [string, string]): Promise<SandboxFixture> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'glsbx-test-')));
  chmodSync(dir, 0o711);
  const a = ensureAccount(names[0]);
  const b = ensureAccount(names[1]);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const forger = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const mapfile = join(dir, 'mapfile');
  writeFileSync(
    mapfile,
    [
      '# test mapfile',
      'GSI "^/DC=org/CN=someone$" nobody',
      `SCITOKENS /^https:\\/\\/issuer\\.example\\.org,alice$/ ${a.name}`,
      `SCITOKENS /^https:\\/\\/issuer\\.example\\.org,bob$/ ${b.name}`,
      'SCITOKENS /^https:\\/\\/issuer\\.example\\.org,rooty$/ root',
      '',
    ].join('\n'),
  );
  const base = { mapfile, issuers: { [ISSUER]: { jwksFile } }, audience: AUDIENCE, killGraceSeconds: 1, credentialGraceSeconds: 2 };
  const policy = (fields: Record<string, unknown>) => {
    const p = join(dir, `policy-${++counter}.json`);
    writeFileSync(p, JSON.stringify({ ...base, ...fields }));
    return p;
  };
  return {
    dir,
    users: { a, b },
    policies: { none: policy({ identity: 'none' }), setuid: policy({ identity: 'setuid' }), helper: policy({ identity: 'helper', helper: HELPER ?? ['sudo', '-n', '-u', '{user}', '--'] }) },
    policy,
    async token(claims, forged = false) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ wlcg_ver: '1.0', aud: claims.aud ?? AUDIENCE, ...claims.extra })
        .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
        .setIssuer(claims.iss ?? ISSUER)
        .setSubject(claims.sub)
        .setIssuedAt(now)
        .setNotBefore(claims.nbf ?? now - 5)
        .setExpirationTime(claims.exp ?? now + 3600)
        .setJti(`jti-${++counter}`)
        .sign((forged ? forger.privateKey : privateKey) as CryptoKey);
    },
    job(spec) {
      const p = join(dir, `job-${++counter}.json`);
      writeFileSync(p, JSON.stringify(spec));
      return p;
    },
    workdir(owner) {
      const w = join(dir, `work-${++counter}`);
      mkdirSync(w, { mode: 0o700 });
      if (owner) chownSync(w, owner.uid, owner.gid);
      return w;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
      removeAccount(a.name);
      removeAccount(b.name);
    },
  };
}

export interface NonRootPilot {
  account: TestAccount;
  /** A helper-mode policy whose sudo lets the pilot start commands as account a; extra fields merged. */
  policy(fields?: Record<string, unknown>): string;
  /** `glidein exec` (TypeScript entry) as the pilot; resolves its exit code, stdout and stderr. */
  exec(job: string, policy: string, env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  cleanup(): void;
}

/**
 * A non-root pilot account whose sudo may run anything as the fixture's account a (a sudoers
 * drop-in, removed by cleanup). Only with sudo installed: runuser cannot serve a non-root pilot.
 */
export function nonRootPilot(fx: SandboxFixture, name: string): NonRootPilot {
  const sudo = findExecutable('sudo')!;
  const account = ensureAccount(name);
  const sudoers = `/etc/sudoers.d/${name}`;
  writeFileSync(sudoers, `${name} ALL=(${fx.users.a.name}) NOPASSWD: ALL\n`, { mode: 0o440 });
  execFileSync(findExecutable('visudo')!, ['-cf', sudoers]);
  return {
    account,
    policy: (fields = {}) => fx.policy({ identity: 'helper', helper: [sudo, '-n', '-u', '{user}', '--'], ...fields }),
    exec(job, policy, env = {}) {
      const agent = spawn(NODE, [CLI_TS, 'exec', '--job', job, '--policy', policy, '--log-format', 'json'], {
        uid: account.uid, gid: account.gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      });
      let stdout = '';
      let stderr = '';
      agent.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      return new Promise((r) => agent.on('close', (code) => r({ code, stdout, stderr })));
    },
    cleanup() {
      rmSync(sudoers, { force: true });
      removeAccount(name);
    },
  };
}

/**
 * For a describe block of non-root-pilot tests: a fixture and a pilot made before its tests and
 * removed after them. The getter gives undefined (the tests skip) where sudo is missing.
 */
export function useNonRootPilot(names: [string, string], pilotName: string): () => { fx: SandboxFixture; pilot: NonRootPilot } | undefined {
  let made: { fx: SandboxFixture; pilot: NonRootPilot } | undefined;
  beforeAll(async () => {
    if (skipWithoutTool('sudo', 'a non-root pilot needs sudo as its helper (apt-get install sudo)')) return;
    const fx = await makeFixture(names);
    made = { fx, pilot: nonRootPilot(fx, pilotName) };
  });
  afterAll(() => {
    made?.pilot.cleanup();
    made?.fx.cleanup();
  });
  return () => made;
}
