// The identity check's verdict from the self-test's findings: a failure is category Config and
// names the account and the step.
import { describe, it, expect } from 'vitest';
import { checkIdentity, type IdentityFacts } from '../../agent/validators/identity.ts';

const ok = (account: string) => ({ account, failedStep: null, detail: 'uid 1001, groups 1001', durationMs: 420 });

describe('identity check', () => {
  it.each<[string, IdentityFacts, Record<string, unknown>]>([
    ['skips without a policy', { tested: false, why: 'no identity self-test asked for (validate --policy FILE)' }, { status: 'skip', failure: null, detail: expect.stringContaining('validate --policy') }],
    ['passes when every account passed', { tested: true, mode: 'setuid', verdicts: [ok('glone'), ok('gltwo')] }, { status: 'pass', value: 2, required: 2, failure: null, detail: expect.stringMatching(/^setuid: glone \(uid 1001, groups 1001, 0\.4 s\), gltwo/) }],
    ['fails as Config naming each failing account and its step', {
      tested: true, mode: 'helper', verdicts: [ok('glone'), { account: 'gltwo', failedStep: 'workdir', detail: 'cannot search the work dir /scratch/w', durationMs: 10 }],
    }, { status: 'fail', value: 1, required: 2, failure: 'Config', detail: "gltwo: step 'workdir': cannot search the work dir /scratch/w" }],
    ['fails when the mapfile names no account', { tested: true, mode: 'setuid', verdicts: [] }, { status: 'fail', failure: 'Config', detail: expect.stringContaining('--as') }],
  ])('%s', (_what, facts, expected) => {
    expect(checkIdentity(facts, {}).result).toMatchObject({ name: 'identity', ...expected });
  });
});
