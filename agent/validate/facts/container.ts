// Container runtime facts: apptainer or singularity (APPTAINER_BIN, SINGULARITY_BIN, PATH, the
// OSG copy on CVMFS), its version and mode, and whether unprivileged user namespaces work
// (/proc/sys/user/max_user_namespaces and a real `unshare -U` attempt); not setuid, with user
// namespaces and a working /etc/subuid block (container-fakeroot.ts): mode fakeroot.
import { stat, realpath } from 'node:fs/promises';
import { dirname, join, basename, isAbsolute } from 'node:path';
import { findOnPath, isExecutable, readText, type Host } from '../host.ts';
import { runProbe } from '../probe.ts';
import { runTestContainer, type ContainerTestOutcome } from './container-test.ts';
import { collectFakeroot, type FakerootFacts } from './container-fakeroot.ts';

export type RuntimeFlavor = 'apptainer' | 'singularity' | 'bwrap';
export type RuntimeMode = 'setuid' | 'unprivileged' | 'fakeroot' | 'unusable';

export interface ContainerFacts {
  /** The runtime found, or null. */
  path: string | null;
  /** Where it was found: APPTAINER_BIN, SINGULARITY_BIN, PATH, CVMFS. */
  foundVia: string | null;
  flavor: RuntimeFlavor | null;
  version: string | null;
  mode: RuntimeMode | null;
  error: string | null;
  maxUserNamespaces: number | null;
  /** A real `unshare -U true` succeeded. */
  userNamespaces: boolean;
  userNamespacesDetail: string;
  /** The /etc/subuid block and whether it maps (probed only when not setuid, with user namespaces); null: not probed. */
  fakeroot: FakerootFacts | null;
  /** The test container (/bin/true in the test image); null: no test image, untested. */
  test: ContainerTestOutcome | null;
}

/** The OSG copy of apptainer on CVMFS (GlideinWMS's fallback). */
export const OSG_APPTAINER = join('oasis.opensciencegrid.org', 'mis', 'apptainer', 'bin', 'apptainer');

/** `apptainer version 1.3.4`, `singularity-ce version 3.11.0`, `singularity version 3.8.7`, `bubblewrap 0.8.0`. */
export function parseRuntimeVersion(text: string): { flavor: RuntimeFlavor; version: string } | null {
  const bw = /^bubblewrap\s+(\S+)/im.exec(text.trim());
  if (bw) return { flavor: 'bwrap', version: bw[1]! };
  const m = /^(apptainer|singularity(?:-ce|-pro)?)\s+version\s+(\S+)/im.exec(text.trim());
  if (!m) return null;
  return { flavor: m[1]!.toLowerCase().startsWith('apptainer') ? 'apptainer' : 'singularity', version: m[2]! };
}

async function findRuntime(host: Host, timeoutMs: number, signal: AbortSignal, bwrapFirst: boolean): Promise<{ path: string; via: string } | null> {
  // bubblewrap (issue 22): after Apptainer/Singularity, unless `--require container=bwrap` asks for it.
  const bwrap = async () => {
    const p = await findOnPath('bwrap', host);
    return p ? { path: p, via: 'PATH' } : null;
  };
  if (bwrapFirst) {
    const b = await bwrap();
    if (b) return b;
  }
  return (await findApptainer(host, timeoutMs, signal)) ?? (bwrapFirst ? null : await bwrap());
}

async function findApptainer(host: Host, timeoutMs: number, signal: AbortSignal): Promise<{ path: string; via: string } | null> {
  for (const name of ['APPTAINER_BIN', 'SINGULARITY_BIN'] as const) {
    const p = host.env[name];
    if (p && isAbsolute(p) && (await isExecutable(p))) return { path: p, via: name };
  }
  for (const name of ['apptainer', 'singularity']) {
    const p = await findOnPath(name, host);
    if (p) return { path: p, via: 'PATH' };
  }
  // The CVMFS copy is tested out of process: a hung mount must not block us.
  const root = await stat(host.cvmfsRoot).then(() => true, () => false);
  if (root) {
    const p = join(host.cvmfsRoot, OSG_APPTAINER);
    const r = await runProbe('/bin/sh', ['-c', '[ -x "$1" ]', 'glidein-probe', p], { timeoutMs, signal });
    if (r.code === 0) return { path: p, via: 'CVMFS' };
  }
  return null;
}

/** Whether the runtime runs setuid: bwrap itself, or the install's starter-suid, root-owned with the setuid bit (and the config allows it). */
async function runsSetuid(path: string, flavor: RuntimeFlavor): Promise<boolean> {
  const real = await realpath(path).catch(() => path);
  if (flavor === 'bwrap') {
    const st = await stat(real).catch(() => null);
    return st !== null && st.uid === 0 && (st.mode & 0o4000) !== 0;
  }
  const prefix = dirname(dirname(real));
  const starter = await stat(join(prefix, 'libexec', flavor, 'bin', 'starter-suid')).catch(() => null);
  if (!starter || starter.uid !== 0 || (starter.mode & 0o4000) === 0) return false;
  const conf = (await readText(join(prefix, 'etc', flavor, `${flavor}.conf`))) ?? '';
  return !/^\s*allow setuid\s*=\s*no\b/im.test(conf);
}

export interface ContainerFactOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Look for bwrap before Apptainer/Singularity (`--require container=bwrap`). */
  bwrapFirst?: boolean;
  /** The image the test container runs /bin/true in; absent: the runtime is reported untested. */
  testImage?: string | null;
}

export async function collectContainerFacts(host: Host, options: ContainerFactOptions): Promise<ContainerFacts> {
  const env = { PATH: host.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  const userns = (async () => {
    const max = (await readText(join(host.procRoot, 'sys', 'user', 'max_user_namespaces')))?.trim();
    const maxUserNamespaces = max && /^\d+$/.test(max) ? Number(max) : null;
    if (maxUserNamespaces === 0) return { maxUserNamespaces, ok: false, detail: 'max_user_namespaces is 0' };
    const unshare = await findOnPath('unshare', host);
    if (!unshare) return { maxUserNamespaces, ok: false, detail: 'unshare not found to try one' };
    const r = await runProbe(unshare, ['-U', 'true'], { timeoutMs: options.timeoutMs, env, signal: options.signal });
    if (r.code === 0) return { maxUserNamespaces, ok: true, detail: 'unshare -U works' };
    return { maxUserNamespaces, ok: false, detail: `unshare -U failed: ${r.timedOut ? 'timed out' : (r.stderr.trim().split('\n')[0] || r.spawnError || `exit ${r.code}`)}` };
  })();
  const runtime = await findRuntime(host, options.timeoutMs, options.signal, options.bwrapFirst === true);
  const ns = await userns;
  const base: ContainerFacts = {
    path: null, foundVia: null, flavor: null, version: null, mode: null, error: null,
    maxUserNamespaces: ns.maxUserNamespaces, userNamespaces: ns.ok, userNamespacesDetail: ns.detail, fakeroot: null, test: null,
  };
  if (!runtime) return base;
  const r = await runProbe(runtime.path, ['--version'], { timeoutMs: options.timeoutMs, env, signal: options.signal });
  const parsed = r.code === 0 ? parseRuntimeVersion(r.stdout) : null;
  if (!parsed) {
    const why = r.timedOut ? `${runtime.path} --version did not answer within ${options.timeoutMs} ms`
      : r.spawnError ?? `${runtime.path} --version gave no version (exit ${r.code ?? r.signal})`;
    const name = basename(runtime.path);
    const flavor: RuntimeFlavor = name === 'bwrap' ? 'bwrap' : name.startsWith('singularity') ? 'singularity' : 'apptainer';
    return { ...base, path: runtime.path, foundVia: runtime.via, flavor, error: why };
  }
  const setuid = await runsSetuid(runtime.path, parsed.flavor);
  const fakeroot = !setuid && ns.ok ? await collectFakeroot(host, options) : null;
  const mode: RuntimeMode = setuid ? 'setuid' : !ns.ok ? 'unusable' : fakeroot?.ok ? 'fakeroot' : 'unprivileged';
  const test = options.testImage && mode !== 'unusable'
    ? await runTestContainer({ name: parsed.flavor, path: runtime.path }, options.testImage, { tmpDir: host.tmpDir, timeoutMs: options.timeoutMs, signal: options.signal })
    : null;
  return { ...base, path: runtime.path, foundVia: runtime.via, flavor: parsed.flavor, version: parsed.version, mode, fakeroot, test };
}
