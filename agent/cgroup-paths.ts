// Reading a process's cgroup membership (/proc/<pid>/cgroup), shared by the job cgroups
// (sandbox/cgroup-job.ts) and the pilot's own limits (validate/cgroup.ts).

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controllers:path`. */
export interface CgroupMembershipLine {
  /** The hierarchy id: "0" for cgroup v2. */
  id: string;
  /** The comma-separated controller list, split ([''] for cgroup v2). */
  controllers: string[];
  path: string;
  /** The cgroup v2 line: id 0, no controllers. */
  v2: boolean;
}

/** Parse one line of /proc/<pid>/cgroup; null when it is not one. */
export function parseCgroupLine(line: string): CgroupMembershipLine | null {
  const m = /^(\d+):([^:]*):(.*)$/.exec(line);
  if (!m) return null;
  const [, id, controllers, path] = m as unknown as [string, string, string, string];
  return { id, controllers: controllers.split(','), path, v2: id === '0' && controllers === '' };
}
