import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { permissions } from '../../agent/validators/permissions.ts';
import { resolveHost } from '../../agent/validate/host.ts';
import { ensureAccount, removeAccount, IS_ROOT, type TestAccount } from '../helpers/accounts.ts';
import { collectContext } from '../validate/fixture.ts';

let base: string;
let user: TestAccount;

describe.skipIf(!IS_ROOT)('permissions (real accounts)', () => {
  beforeAll(() => {
    user = ensureAccount('glvalperm');
    base = mkdtempSync(join(tmpdir(), 'glidein-perm-test-'));
    mkdirSync(join(base, 'pilot', 'jobs'), { recursive: true });
  });
  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
    removeAccount('glvalperm');
  });

  /** The kernel's own verdict: can the account cd into the path? */
  function kernelAllows(path: string): boolean {
    const r = spawnSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', 'sh', '-c', 'cd "$1"', 'probe', path]);
    return r.status === 0;
  }

  async function check(workdir: string) {
    const ctx = collectContext(resolveHost(), { workdir, identityAccounts: [user] });
    const outcome = permissions.check(await permissions.collect(ctx), {});
    expect(outcome.result.status === 'pass').toBe(kernelAllows(workdir));
    return outcome;
  }

  it('fails with Config, naming the directory, when a 0700 pilot dir hides the job dirs', async () => {
    chmodSync(base, 0o711);
    chmodSync(join(base, 'pilot'), 0o700);
    const { result } = await check(join(base, 'pilot', 'jobs'));
    expect(result).toMatchObject({ name: 'permissions', status: 'fail', failure: 'Config' });
    expect(result.detail).toContain(`glvalperm cannot reach ${join(base, 'pilot')}: mode 0700`);
  });

  it('passes when every directory down to the job dirs is searchable (other x bit)', async () => {
    chmodSync(base, 0o711);
    chmodSync(join(base, 'pilot'), 0o711);
    expect((await check(join(base, 'pilot', 'jobs'))).result).toMatchObject({ status: 'pass', value: 1, failure: null });
  });

  it('counts the group search bit for the account\'s own group', async () => {
    chmodSync(join(base, 'pilot'), 0o710);
    chownSync(join(base, 'pilot'), 0, user.gid);
    expect((await check(join(base, 'pilot', 'jobs'))).result.status).toBe('pass');
    chownSync(join(base, 'pilot'), 0, 0);
    expect((await check(join(base, 'pilot', 'jobs'))).result.status).toBe('fail');
  });
});

describe('permissions', () => {
  it('is skipped when identity switching is not configured', async () => {
    const { result } = permissions.check(await permissions.collect(collectContext(resolveHost())), {});
    expect(result).toMatchObject({ status: 'skip', detail: 'identity switching not configured' });
  });
});
