// The identity-switch self-test with real accounts, as root (CI): a test payload goes through the
// sandbox path `glidein exec` takes, in setuid and helper mode; then the ways it must fail.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, realpathSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy, type Policy } from '../../agent/sandbox/policy.ts';
import { runIdentityTest } from '../../agent/validate/identity-test.ts';
import { silentLogger } from '../../shared/log.ts';
import { ensureAccount, removeAccount, IS_ROOT, type TestAccount } from '../helpers/accounts.ts';
import { HELPER, skipHelperMode } from '../sandbox/sandbox-fixture.ts';

let dir: string;
let work: string;
let one: TestAccount;
let two: TestAccount;

function sitePolicy(fields: Record<string, unknown>): Policy {
  // The site's own issuer and mapfile are never used by the self-test (it brings its own).
  return parsePolicy({ mapfile: '/nonexistent/mapfile', issuers: { 'https://iss.example': { jwksFile: '/nonexistent/jwks.json' } }, audience: 'https://ce.example', killGraceSeconds: 1, ...fields }, 'policy.json');
}

const run = (policy: Policy, accounts: string[], workdir = work) =>
  runIdentityTest({ policy, accounts, log: silentLogger }, workdir, new AbortController().signal);

describe.skipIf(!IS_ROOT)('identity self-test (real accounts)', () => {
  beforeAll(() => {
    one = ensureAccount('glidtestone');
    two = ensureAccount('glidtesttwo');
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'glidein-identity-selftest-')));
    chmodSync(dir, 0o755);
    work = join(dir, 'work');
    mkdirSync(work, { mode: 0o755 });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    removeAccount(one.name);
    removeAccount(two.name);
  });

  it('passes for two accounts in setuid mode: own uid and groups, store unreadable, work dir reachable', async () => {
    const verdicts = await run(sitePolicy({ identity: 'setuid' }), [one.name, two.name]);
    expect(verdicts).toEqual([
      { account: one.name, failedStep: null, detail: `uid ${one.uid}, groups ${one.gid}`, durationMs: expect.any(Number) },
      { account: two.name, failedStep: null, detail: `uid ${two.uid}, groups ${two.gid}`, durationMs: expect.any(Number) },
    ]);
  }, 60_000);

  it.skipIf(skipHelperMode())('passes in helper mode with the site helper', async () => {
    const verdicts = await run(sitePolicy({ identity: 'helper', helper: HELPER }), [one.name]);
    expect(verdicts[0]).toMatchObject({ account: one.name, failedStep: null });
  }, 60_000);

  it('fails at the workdir step for a work dir under a 0700 directory, naming the account', async () => {
    const hidden = join(dir, 'pilot-private');
    mkdirSync(join(hidden, 'work'), { recursive: true, mode: 0o700 });
    chmodSync(hidden, 0o700);
    const verdicts = await run(sitePolicy({ identity: 'setuid' }), [one.name], join(hidden, 'work'));
    expect(verdicts[0]).toMatchObject({ account: one.name, failedStep: 'workdir', detail: `cannot search the work dir ${join(hidden, 'work')}` });
  }, 60_000);

  it('fails at the lookup step for an account that does not exist, and tests the others', async () => {
    const verdicts = await run(sitePolicy({ identity: 'setuid' }), ['glidnosuchuser', one.name]);
    expect(verdicts.map((v) => [v.account, v.failedStep])).toEqual([['glidnosuchuser', 'lookup'], [one.name, null]]);
  }, 60_000);

  it('fails at the launch step when the helper refuses, with its reason', async () => {
    const refuses = join(dir, 'refusing-helper');
    writeFileSync(refuses, '#!/bin/sh\necho "helper: not allowed for $1" >&2\nexit 1\n', { mode: 0o755 });
    const verdicts = await run(sitePolicy({ identity: 'helper', helper: [refuses, '{user}'] }), [two.name]);
    expect(verdicts[0]).toMatchObject({ account: two.name, failedStep: 'launch', detail: expect.stringContaining('the test payload was') });
  }, 60_000);
});

describe.skipIf(!IS_ROOT)('identity self-test against helpers that do not switch properly', () => {
  let acct: TestAccount;
  beforeAll(() => {
    acct = ensureAccount('glidtestbad');
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'glidein-identity-selftest-')));
    chmodSync(dir, 0o755);
    work = dir;
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    removeAccount(acct.name);
  });

  it.each([
    // The sandbox itself refuses a wrapper started as the wrong uid: the launch step says so.
    ['a helper that runs the payload as root', 'launch', ['/usr/bin/env', 'GLIDEIN_TARGET={user}'], 'as uid 0'],
    ['a helper that keeps root\'s groups', 'groups', ['setpriv', '--reuid={uid}', '--regid={uid}', '--keep-groups', '--'], 'ran with groups'],
  ])('%s fails at the %s step', async (_what, step, helper, detail) => {
    const verdicts = await run(sitePolicy({ identity: 'helper', helper }), [acct.name]);
    expect(verdicts[0]).toMatchObject({ account: acct.name, failedStep: step, detail: expect.stringContaining(detail) });
  }, 60_000);
});
