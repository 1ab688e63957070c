// The variables that tell a payload which GPUs are its own (issue 23). CUDA and the NVIDIA
// container toolkit both take full UUIDs (GPU-… or, for a MIG instance, MIG-…); a job given no
// GPU on a node that has some gets HTCondor's value for unassigned GPUs (ENVIRONMENT_VALUE_FOR_
// UnAssignedGPUs = 10000, an ordinal no node has) so CUDA sees none, and the toolkit's "none".


/** HTCondor's ENVIRONMENT_VALUE_FOR_UnAssignedGPUs default. */
export const UNASSIGNED_CUDA_DEVICES = '10000';

/** The ROCm runtime's device id (amd-gpu.ts): `GPU-` and 16 hex digits, where an NVIDIA UUID has dashes. */
const AMD_ID = /^GPU-[0-9a-f]{16}$/i;

export function gpuEnv(assigned: readonly string[]): Record<string, string> {
  if (assigned.length === 0) return { CUDA_VISIBLE_DEVICES: UNASSIGNED_CUDA_DEVICES, NVIDIA_VISIBLE_DEVICES: 'none' };
  const list = assigned.join(',');
  // AMD: ROCR_VISIBLE_DEVICES takes the runtime's ids; HIP_VISIBLE_DEVICES then counts within them.
  if (assigned.every((a) => AMD_ID.test(a))) return { ROCR_VISIBLE_DEVICES: list, HIP_VISIBLE_DEVICES: assigned.map((_, i) => String(i)).join(',') };
  return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list };
}
