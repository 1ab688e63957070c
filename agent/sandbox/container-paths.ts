// Host paths of the job's work dir as the job sees them in its container (issue 22): the work
// dir is bound at /srv, so a path under it (HTCondor gives the wrapper the transferred
// executable by its full scratch-dir path, and sets _CONDOR_SCRATCH_DIR, _CONDOR_JOB_AD … to
// paths there) must name /srv inside, or the job's own executable is "not in the image".
// GlideinWMS's singularity_wrapper.sh rewrites $_CONDOR_SCRATCH_DIR to /srv the same way.
import { INSIDE_WORKDIR } from './container-runtime.ts';

/** `path` with a leading `workdir` (the whole dir or a path under it) replaced by /srv; else unchanged. */
export function insidePath(workdir: string, path: string): string {
  const dir = workdir.replace(/\/+$/, '');
  if (dir === '') return path;
  if (path === dir) return INSIDE_WORKDIR;
  return path.startsWith(`${dir}/`) ? `${INSIDE_WORKDIR}${path.slice(dir.length)}` : path;
}

/** An environment value: each ':'-separated element that is a path in `workdir` (PATH-like lists too). */
export function insideValue(workdir: string, value: string): string {
  return value.split(':').map((part) => insidePath(workdir, part)).join(':');
}

/** The executable, argv and environment as the job sees them in its container. */
export function toInside(workdir: string, job: { executable: string; argv: string[]; env: Record<string, string> }): { executable: string; argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.env)) env[k] = insideValue(workdir, v);
  return { executable: insidePath(workdir, job.executable), argv: job.argv.map((a) => insidePath(workdir, a)), env };
}
