// permissions (identity switching only): every directory on the path to the job directories is
// searchable by each target account. Skipped when no identity switching is configured.
import { collectPermissionFacts, type PermissionFacts } from '../validate/facts/permissions.ts';
import { defineValidator } from '../validate/validator.ts';
import type { CheckOutcome, Requirements } from '../validate/types.ts';

export function checkPermissions(f: PermissionFacts, _req: Requirements): CheckOutcome {
  if (f.accounts.length === 0) {
    return { result: { name: 'permissions', status: 'skip', value: null, required: null, detail: 'identity switching not configured', failure: null } };
  }
  if (f.blocked.length) {
    const detail = f.blocked.map((b) => `${b.account} cannot reach ${b.dir}: ${b.reason}`).join('; ');
    return { result: { name: 'permissions', status: 'fail', value: f.accounts.length - new Set(f.blocked.map((b) => b.account)).size, required: f.accounts.length, detail, failure: 'Config' } };
  }
  return { result: { name: 'permissions', status: 'pass', value: f.accounts.length, required: f.accounts.length, detail: `${f.accounts.join(', ')} can search every directory down to ${f.paths.join(', ')}`, failure: null } };
}

export const permissions = defineValidator<PermissionFacts>({
  name: 'permissions',
  deadlineMs: 2000,
  probeTimeoutMs: 0,
  isRequired: () => true,
  collect: (ctx) => collectPermissionFacts(ctx.host, ctx.identityAccounts, ctx.identityAccounts.length ? [ctx.workdir] : []),
  check: checkPermissions,
});
