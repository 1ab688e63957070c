// One schedulable GPU as nvidia-smi (or amd-smi) describes it: a whole GPU, or a MIG instance in its place (issue 23).
export interface GpuDevice {
  index: number;
  uuid: string;
  name: string;
  memoryMiB: number | null;
  computeCapability: string | null;
  /** `mig.mode.current` is Enabled: the GPU itself is not schedulable, its MIG devices are. */
  migEnabled: boolean;
  /** For a MIG device: its GPU's UUID; null for a whole GPU. */
  parent: string | null;
  /** Absent: NVIDIA. AMD devices carry the ROCm runtime's id (GPU-<16 hex>) as `uuid`. */
  vendor?: 'amd';
  /** AMD: the gfx target (gfx90a …). */
  gfx?: string;
}
