// What one validator is: a collector of facts (I/O, run under the runner's deadline) and a pure
// function from those facts to a typed result (STYLE.md example 1).
import type { Host } from './host.ts';
import type { CheckName, CheckOutcome, IdentityAccount, Requirements } from './types.ts';
import type { IdentityTestPlan } from './identity-test.ts';

export interface CollectContext {
  host: Host;
  requirements: Requirements;
  /** The work directory (absolute). */
  workdir: string;
  identityAccounts: readonly IdentityAccount[];
  /** The identity-switch self-test to run (`validate --policy`); absent: the check is skipped. */
  identityTest?: IdentityTestPlan;
  /** The image the container check's test container runs /bin/true in (issue 22); absent: untested. */
  containerTestImage?: string | null;
  /** Aborted at the check's deadline: collectors pass it to their child processes. */
  signal: AbortSignal;
  /** Deadline for one helper program (nvidia-smi, apptainer, a CVMFS probe). */
  probeTimeoutMs: number;
}

export interface Validator<F = unknown> {
  name: CheckName;
  /** Default deadline of the whole check (collection included). */
  deadlineMs: number;
  /** Default deadline of one helper program this check starts. */
  probeTimeoutMs: number;
  /** Whether a requirement rides on this check: then a missed deadline is a failure, else a warning. */
  isRequired(requirements: Requirements): boolean;
  collect(ctx: CollectContext): Promise<F>;
  check(facts: F, requirements: Requirements): CheckOutcome;
}

/** Helper so each validator file gets its facts type checked. */
export function defineValidator<F>(v: Validator<F>): Validator<F> {
  return v;
}
