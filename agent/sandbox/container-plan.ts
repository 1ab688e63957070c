// Whether and how a job runs in a container (issue 22), decided by the agent before launch:
// the image (the job's, else the entry's default under preferred/required), the entry's mode
// with GlideinWMS's meanings, the site policy's allowed image roots (checked on the real path,
// after `..` and symlinks), its forced binds (only those present, e.g. /cvmfs) and forbidden
// binds (the path, anything under it, or a parent of it; the pilot's credential store is always
// forbidden). A refusal is a permanent launch error whose reason names the rule.
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errnoCode } from '../../shared/errors.ts';
import { formatBind, type BindSpec, type ContainerEntry, type JobContainer } from '../../shared/container-entry.ts';
import type { ContainerPolicy } from './container-policy.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { INSIDE_CREDENTIALS, INSIDE_WORKDIR } from './container-runtime.ts';
import { launchError, type LaunchError } from './launch-error.ts';

export interface PlannedContainer {
  runtime: { name: ContainerRuntime['name']; path: string };
  image: string;
  binds: BindSpec[];
}

export type ContainerPlan = { kind: 'bare' } | { kind: 'container'; container: PlannedContainer } | { kind: 'held'; error: LaunchError };

export interface PlanInput {
  job: JobContainer | null;
  entry: ContainerEntry;
  policy: ContainerPolicy;
  /** The host dir seen as /srv; null: the job has none (a container job needs one). */
  workdir: string | null;
  /** Host paths always forbidden (the pilot's credential store). */
  alwaysForbidden: readonly string[];
  findRuntime: () => ContainerRuntime | null;
}

const held = (code: string, message: string): ContainerPlan => ({ kind: 'held', error: launchError('container', code, message, true) });

function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** a equals b, or lies under it. */
function within(a: string, b: string): boolean {
  return a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
}

function forbiddenBy(source: string, forbidden: readonly string[]): string | null {
  for (const f of forbidden) {
    const rf = real(f) ?? resolve(f);
    if (within(source, rf) || within(rf, source)) return f;
  }
  return null;
}

function checkImage(image: string, policy: ContainerPolicy, runtime: ContainerRuntime): { path: string } | ContainerPlan {
  let path: string;
  try {
    path = realpathSync(image);
  } catch (e) {
    return held('IMAGE_MISSING', `image ${image} cannot be resolved on this node (${errnoCode(e) ?? 'EIO'})`);
  }
  const roots = policy.allowedImageRoots;
  if (roots !== null && !roots.some((r) => within(path, real(r) ?? resolve(r)))) {
    return held('IMAGE_NOT_ALLOWED', `image ${image} (real path ${path}) is outside the policy's containers.allowedImageRoots (${roots.join(', ')})`);
  }
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return held('IMAGE_MISSING', `image ${image} does not exist`);
  if (!st.isDirectory() && !runtime.runsSif) return held('IMAGE_FORMAT', `image ${image} is not a directory tree and ${runtime.name} runs directory images only`);
  return { path };
}

const RESERVED_TARGETS = ['/proc', '/dev', INSIDE_WORKDIR, INSIDE_CREDENTIALS];

function checkBinds(input: PlanInput): BindSpec[] | ContainerPlan {
  const forbidden = [...input.policy.forbiddenBinds, ...input.alwaysForbidden];
  const out: BindSpec[] = [];
  const wanted = [...input.policy.binds.map((b) => ({ b, forced: true })), ...(input.job?.binds ?? []).map((b) => ({ b, forced: false }))];
  for (const { b, forced } of wanted) {
    const source = real(b.source);
    if (source === null) {
      if (forced) continue; // a site bind such as /cvmfs only where present
      return held('BIND_MISSING', `bind ${formatBind(b)}: ${b.source} does not exist on this node`);
    }
    const rule = forbiddenBy(source, forbidden);
    if (rule !== null) return held('BIND_FORBIDDEN', `bind ${formatBind(b)} (real path ${source}) exposes ${rule}, which the policy forbids (containers.forbiddenBinds, or the pilot's credential store)`);
    const target = resolve(b.target);
    if (target === '/' || RESERVED_TARGETS.some((r) => within(target, r) || within(r, target))) {
      return held('BIND_FORBIDDEN', `bind ${formatBind(b)}: the inside path ${b.target} is one glidein mounts itself (/, /proc, /dev, /srv, /glidein)`);
    }
    out.push({ source, target, readOnly: b.readOnly });
  }
  return out;
}

/** The decision for one job (or for the `-- COMMAND` payload, with job null). */
export function planContainer(input: PlanInput): ContainerPlan {
  const { entry, job } = input;
  const jobImage = job?.image ?? null;
  if (entry.mode === 'never') {
    return job ? held('CONTAINER_NOT_ALLOWED', `the job asks for a container${jobImage ? ` (image ${jobImage})` : ''}, but the entry's container mode is 'never'`) : { kind: 'bare' };
  }
  const image = jobImage ?? (entry.mode === 'optional' ? null : entry.defaultImage);
  if (image === null) {
    if (entry.mode === 'required') return held('CONTAINER_REQUIRED', "the entry's container mode is 'required', and neither the job nor the entry (defaultImage) names an image");
    if (job && job.binds.length > 0) return held('BAD_SPEC', 'the job gives container.binds but no image runs it');
    return { kind: 'bare' };
  }
  const runtime = input.findRuntime();
  if (!runtime) {
    if (entry.mode === 'preferred' && jobImage === null) return { kind: 'bare' };
    return held('NO_CONTAINER_RUNTIME', `the job must run in image ${image}, but no container runtime was found on this node (policy containers.runtime '${input.policy.runtime}')`);
  }
  if (input.workdir === null) return held('BAD_SPEC', 'a job in a container needs a cwd: its work dir, seen inside as /srv');
  const wd = real(input.workdir) ?? input.workdir;
  const wdRule = forbiddenBy(wd, [...input.policy.forbiddenBinds, ...input.alwaysForbidden]);
  if (wdRule !== null) return held('BIND_FORBIDDEN', `the job's work dir ${input.workdir} (seen as /srv) exposes ${wdRule}, which the policy forbids`);
  const img = checkImage(image, input.policy, runtime);
  if ('kind' in img) return img;
  const binds = checkBinds(input);
  if (!Array.isArray(binds)) return binds;
  return { kind: 'container', container: { runtime: { name: runtime.name, path: runtime.path }, image: img.path, binds } };
}

/** The credential dir a bearer file lies in, for the read-only bind. */
export function credentialDirOf(bearerPath: string | null): string | null {
  return bearerPath === null ? null : dirname(bearerPath);
}
