// Node validation's public API: the `validate` command and the pilot lifecycle (agent/pilot)
// call these; nothing else in agent/validate is meant to be imported from outside.
export { parseRequirements, describeRequirements } from './requirements.ts';
export { parseSize, formatBytes, SIZE_EXPECTED } from './size.ts';
export { runValidation, type RunValidationOptions, type CheckTiming } from './runner.ts';
export type { IdentityChecks } from './identity-plan.ts';
export type { IdentityTestPlan, AccountVerdict, IdentityStep } from './identity-test.ts';
export { formatJson } from './format-json.ts';
export { formatClassad } from './format-classad.ts';
export { formatXml, type XmlContext } from './format-xml.ts';
export { formatTable, tableHeader, tableRow, tableFooter } from './format-table.ts';
export type { HostOptions } from './host.ts';

/**
 * The identity and permissions checks' plan from a site policy (identity-plan.ts), loaded only
 * when `--policy` is given: the policy's files bring jose and node:crypto (JWKS), which
 * validating without a policy never uses (a few ms of every `validate` start, issue 27).
 */
export async function planIdentityChecks(...args: Parameters<typeof import('./identity-plan.ts').planIdentityChecks>): Promise<import('./identity-plan.ts').IdentityChecks> {
  return (await import('./identity-plan.ts')).planIdentityChecks(...args);
}
export type {
  AttributeValue, CheckName, CheckResult, CheckStatus, ContainerRequirement, FailureCategory,
  IdentityAccount, Requirements, ValidationReport,
} from './types.ts';
