// The variables that tell a payload which GPUs are its own (issue 23). CUDA and the NVIDIA
// container toolkit both take full UUIDs (GPU-… or, for a MIG instance, MIG-…); a job given no
// GPU on a node that has some gets HTCondor's value for unassigned GPUs (ENVIRONMENT_VALUE_FOR_
// UnAssignedGPUs = 10000, an ordinal no node has) so CUDA sees none, and the toolkit's "none".

/** What the job's GPU variables say; they override whatever the job spec's env set for them. */
export const GPU_ENV_NAMES = ['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES'] as const;

/** HTCondor's ENVIRONMENT_VALUE_FOR_UnAssignedGPUs default. */
export const UNASSIGNED_CUDA_DEVICES = '10000';

export function gpuEnv(assigned: readonly string[]): Record<string, string> {
  if (assigned.length === 0) return { CUDA_VISIBLE_DEVICES: UNASSIGNED_CUDA_DEVICES, NVIDIA_VISIBLE_DEVICES: 'none' };
  const list = assigned.join(',');
  return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list };
}
