// The shapes of node validation: requirements in, one result per check out, and the report
// that `glidein validate --format json` prints (DESIGN.md section 5, "validate — contract").

/** GlideinWMS failure categories (INTEROP.md, "GlideinWMS validation results"). */
export type FailureCategory = 'WN_Resource' | 'Network' | 'Config' | 'VO_Config' | 'Corruption' | 'VO_Proxy';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export type CheckName = 'cores' | 'memory' | 'disk' | 'gpu' | 'cvmfs' | 'container' | 'os' | 'permissions' | 'identity'
  /** Not a check of the node: as a GlideinWMS custom script, what stopped it before the checks (glidein_config, a requirement, publishing). */
  | 'config'
  /** One of the factory entry's VO/factory scripts the pilot ran (issue 24 section 5). */
  | `script/${string}`;

/** One check's result, exactly as it appears in the JSON report's `checks` array. */
export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** Natural unit: a count for cores and gpu, bytes for memory and disk, a string for os and container. */
  value: number | string | string[] | null;
  required: number | string | string[] | null;
  detail: string;
  failure: FailureCategory | null;
}

/** A ClassAd expression that is no literal (a nested ad, a list of attribute references), written
 * as is by `--format classad`; in JSON `{"classad": "<expression>"}`. HTCondor's GPU properties (issue 23). */
export interface ClassAdExpression {
  readonly classad: string;
}

export type AttributeValue = number | string | boolean | ClassAdExpression;

/** The JSON report (contract). */
export interface ValidationReport {
  status: 'OK' | 'ERROR';
  durationMs: number;
  checks: CheckResult[];
  /** Startd attributes (`NAME = value` in `--format classad`). */
  attributes: Record<string, AttributeValue>;
}

export type ContainerRequirement = 'any' | 'apptainer' | 'singularity' | 'bwrap';

/** Parsed `--require KEY=VALUE` items; absent keys are not required. */
export interface Requirements {
  cores?: number;
  /** bytes */
  memory?: number;
  /** bytes */
  disk?: number;
  gpus?: number;
  /** bytes: every offered GPU has at least this much memory (`gpu_memory=SIZE`) */
  gpuMemory?: number;
  /** `cuda=X.Y`: at least this CUDA driver API version */
  cuda?: string;
  cvmfs?: string[];
  container?: ContainerRequirement;
}

/** A Unix account that payloads will run as (identity switching); the permissions check uses it. */
export interface IdentityAccount {
  name: string;
  uid: number;
  gid: number;
}

/** What a validator produces before the runner stamps its name: result plus startd attributes. */
export interface CheckOutcome {
  result: CheckResult;
  attributes?: Record<string, AttributeValue>;
}
