// Container runtime facts: apptainer or singularity (APPTAINER_BIN, SINGULARITY_BIN, PATH, the
// OSG copy on CVMFS), its version and mode, and whether unprivileged user namespaces work
// (/proc/sys/user/max_user_namespaces and a real `unshare -U` attempt).
import { stat, realpath } from 'node:fs/promises';
import { dirname, join, basename, isAbsolute } from 'node:path';
import { findOnPath, isExecutable, readText, type Host } from '../host.ts';
import { runProbe } from '../probe.ts';

export type RuntimeFlavor = 'apptainer' | 'singularity';
export type RuntimeMode = 'setuid' | 'unprivileged' | 'unusable';

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
}

/** The OSG copy of apptainer on CVMFS (GlideinWMS's fallback). */
export const OSG_APPTAINER = join('oasis.opensciencegrid.org', 'mis', 'apptainer', 'bin', 'apptainer');

/** `apptainer version 1.3.4`, `singularity-ce version 3.11.0`, `singularity version 3.8.7`. */
export function parseRuntimeVersion(text: string): { flavor: RuntimeFlavor; version: string } | null {
  const m = /^(apptainer|singularity(?:-ce|-pro)?)\s+version\s+(\S+)/im.exec(text.trim());
  if (!m) return null;
  return { flavor: m[1]!.toLowerCase().startsWith('apptainer') ? 'apptainer' : 'singularity', version: m[2]! };
}

async function findRuntime(host: Host, timeoutMs: number, signal: AbortSignal): Promise<{ path: string; via: string } | null> {
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

/** setuid when the install's starter-suid is root-owned with the setuid bit and the config allows it. */
async function runtimeMode(path: string, flavor: RuntimeFlavor, userNamespaces: boolean): Promise<RuntimeMode> {
  const real = await realpath(path).catch(() => path);
  const prefix = dirname(dirname(real));
  const starter = await stat(join(prefix, 'libexec', flavor, 'bin', 'starter-suid')).catch(() => null);
  if (starter && starter.uid === 0 && (starter.mode & 0o4000) !== 0) {
    const conf = (await readText(join(prefix, 'etc', flavor, `${flavor}.conf`))) ?? '';
    if (!/^\s*allow setuid\s*=\s*no\b/im.test(conf)) return 'setuid';
  }
  return userNamespaces ? 'unprivileged' : 'unusable';
}

export async function collectContainerFacts(host: Host, options: { timeoutMs: number; signal: AbortSignal }): Promise<ContainerFacts> {
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
  const runtime = await findRuntime(host, options.timeoutMs, options.signal);
  const ns = await userns;
  const base: ContainerFacts = {
    path: null, foundVia: null, flavor: null, version: null, mode: null, error: null,
    maxUserNamespaces: ns.maxUserNamespaces, userNamespaces: ns.ok, userNamespacesDetail: ns.detail,
  };
  if (!runtime) return base;
  const r = await runProbe(runtime.path, ['--version'], { timeoutMs: options.timeoutMs, env, signal: options.signal });
  const parsed = r.code === 0 ? parseRuntimeVersion(r.stdout) : null;
  if (!parsed) {
    const why = r.timedOut ? `${runtime.path} --version did not answer within ${options.timeoutMs} ms`
      : r.spawnError ?? `${runtime.path} --version gave no version (exit ${r.code ?? r.signal})`;
    const flavor: RuntimeFlavor = basename(runtime.path).startsWith('singularity') ? 'singularity' : 'apptainer';
    return { ...base, path: runtime.path, foundVia: runtime.via, flavor, error: why };
  }
  const mode = await runtimeMode(runtime.path, parsed.flavor, ns.ok);
  return { ...base, path: runtime.path, foundVia: runtime.via, flavor: parsed.flavor, version: parsed.version, mode };
}
