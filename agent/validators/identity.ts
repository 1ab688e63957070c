// identity (`validate --policy FILE [--as ACCOUNT]...`): the identity switch works for each
// account — a test payload ran through the real sandbox path as that uid with its groups, could
// not read the pilot's store, and could enter the work dir. Skipped without --policy.
// The test itself (the sandbox, a credential store, a self-test token site) loads only when a
// policy asks for it: validating without --policy never pays for that code (issue 27).
import type { AccountVerdict } from '../validate/identity-test.ts';
import { defineValidator } from '../validate/validator.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

export type IdentityFacts = { tested: false; why: string } | { tested: true; mode: string; verdicts: AccountVerdict[] };

export function checkIdentity(f: IdentityFacts, _req: Requirements): CheckOutcome {
  if (!f.tested) return { result: { name: 'identity', status: 'skip', value: null, required: null, detail: f.why, failure: null } };
  const total = f.verdicts.length;
  if (total === 0) {
    return { result: { name: 'identity', status: 'fail', value: 0, required: null, detail: 'the mapfile maps to no account; name accounts with --as', failure: 'Config' } };
  }
  const failed = f.verdicts.filter((v) => v.failedStep !== null);
  const seconds = (v: AccountVerdict) => `${(v.durationMs / 1000).toFixed(1)} s`;
  if (failed.length > 0) {
    const detail = failed.map((v) => `${v.account}: step '${v.failedStep}': ${v.detail}`).join('; ');
    return { result: { name: 'identity', status: 'fail', value: total - failed.length, required: total, detail, failure: 'Config' } };
  }
  const each = f.verdicts.map((v) => `${v.account} (${v.detail}, ${seconds(v)})`).join(', ');
  return {
    result: {
      name: 'identity', status: 'pass', value: total, required: total, failure: null,
      detail: `${f.mode}: ${each} ran the test payload as themselves, could not read the pilot's store and could enter the work dir`,
    },
  };
}

export const identity = defineValidator<IdentityFacts>({
  name: 'identity',
  // A launch per account, a few at a time, each bounded by the policy's helper timeout and retries.
  deadlineMs: 120_000,
  probeTimeoutMs: 60_000,
  isRequired: () => true,
  async collect(ctx) {
    const plan = ctx.identityTest;
    if (!plan) return { tested: false, why: 'no identity self-test asked for (validate --policy FILE)' };
    if (plan.policy.identity === 'none') return { tested: false, why: "policy identity 'none': payloads run as the pilot itself" };
    const { runIdentityTest } = await import('../validate/identity-test.ts');
    return { tested: true, mode: plan.policy.identity, verdicts: await runIdentityTest(plan, ctx.workdir, ctx.signal) };
  },
  check: checkIdentity,
});
