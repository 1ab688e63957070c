// From `validate --policy FILE [--as ACCOUNT]...` to what the identity and permissions checks
// need: the site policy, the accounts to switch to (the --as names, else every account the
// mapfile can map to), and those of them that exist here (for the permissions check).
import { UsageError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { loadCheckedPolicy } from '../sandbox/policy-files.ts';
import { loadMapfile, mappedAccounts, isAccountName } from '../sandbox/mapfile.ts';
import { lookupAccount } from '../sandbox/account.ts';
import type { IdentityTestPlan } from './identity-test.ts';
import type { IdentityAccount } from './types.ts';

export interface IdentityChecks {
  identityTest: IdentityTestPlan;
  /** The accounts that exist on this node (the permissions check's targets); none in mode `none`. */
  identityAccounts: IdentityAccount[];
}

export async function planIdentityChecks(policyPath: string, asNames: readonly string[], log: Logger): Promise<IdentityChecks> {
  for (const n of asNames) {
    if (!isAccountName(n)) throw new UsageError(`validate: --as '${n}' is not valid; expected a local account name`);
  }
  const policy = await loadCheckedPolicy(policyPath, log);
  const names = asNames.length > 0 ? [...new Set(asNames)] : policy.mapfile ? mappedAccounts(await loadMapfile(policy.mapfile, { strict: policy.strictMapfile })) : [];
  const identityAccounts: IdentityAccount[] = [];
  if (policy.identity !== 'none') {
    for (const name of names) {
      const a = await lookupAccount(name);
      if (a) identityAccounts.push({ name: a.name, uid: a.uid, gid: a.gid });
    }
  }
  return { identityTest: { policy, accounts: names, log: log.child({ component: 'identity-self-test' }) }, identityAccounts };
}
