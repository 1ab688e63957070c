// The payload sandbox's public API (DESIGN.md sections 5 and 7) for `glidein exec` and the pilot.
export type { JobSpec } from './job-spec.ts';
export { parseJobSpec, FORBIDDEN_JOB_ENV } from './job-spec.ts';
export type { Policy, IdentityMode, IssuerPolicy } from './policy.ts';
export { parsePolicy, loadPolicy, expandHelper, DEFAULT_HELPER } from './policy.ts';
export type { MapRule, Mapfile, Mapping } from './mapfile.ts';
export { parseMapfile, loadMapfile, mapIdentity } from './mapfile.ts';
export type { VerifiedIdentity } from './identity.ts';
export { verifyIdentityToken, resolveIdentity } from './identity.ts';
export type { LaunchError } from './launch-error.ts';
export { isPermanentCode } from './launch-error.ts';
export type { JobResult, JobState, KillReason } from './result.ts';
export { exitCodeForResult } from './result.ts';
export type { JobHandle, StartJobOptions, UpdateResult } from './start-job.ts';
export { startJob, runJob } from './start-job.ts';
export { Limiter, helperLimiter } from './limiter.ts';
