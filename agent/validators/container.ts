// container: apptainer, singularity or bubblewrap, its version and mode (setuid, unprivileged,
// fakeroot: /etc/subuid mapping present and working; or unusable), unprivileged user
// namespaces, and (issue 22) a real test container: HAS_SINGULARITY ("this slot can run the
// job's image", as GlideinWMS frontends read it) is true only when /bin/true ran in the test
// image, with any backend. GWMS_SINGULARITY_* are Apptainer/Singularity's only;
// GLIDEIN_Container_Runtime names the backend. `container=singularity` is met by apptainer too
// (it provides the singularity command); `container=apptainer` only by apptainer; `container=bwrap`
// only by bubblewrap.
import { collectContainerFacts, type ContainerFacts } from '../validate/facts/container.ts';
import { defineValidator } from '../validate/validator.ts';
import type { AttributeValue, CheckOutcome, Requirements } from '../validate/types.ts';

function attributesOf(f: ContainerFacts, usable: boolean): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {
    HAS_SINGULARITY: usable && f.test?.ok === true,
    HAS_UNPRIVILEGED_USER_NAMESPACES: f.userNamespaces,
  };
  if (usable) attributes.GLIDEIN_Container_Runtime = f.flavor!;
  if (usable && f.flavor !== 'bwrap') {
    attributes.GWMS_SINGULARITY_PATH = f.path!;
    attributes.GWMS_SINGULARITY_VERSION = `${f.flavor} ${f.version}`;
    attributes.GWMS_SINGULARITY_MODE = f.mode!;
  }
  return attributes;
}

function problemOf(f: ContainerFacts, required: Requirements['container'] | null): string | null {
  if (f.error !== null) return f.error;
  if (f.mode === 'unusable') return 'not setuid and user namespaces do not work, so it cannot start containers';
  if (required === 'apptainer' && f.flavor !== 'apptainer') return `apptainer required, found ${f.flavor}`;
  if (required === 'bwrap' && f.flavor !== 'bwrap') return `bwrap required, found ${f.flavor}`;
  if (required === 'singularity' && f.flavor === 'bwrap') return 'singularity required, found bwrap';
  if (f.test && !f.test.ok) return `the test container failed: ${f.test.detail}`;
  return null;
}

export function checkContainer(f: ContainerFacts, req: Requirements): CheckOutcome {
  const required = req.container ?? null;
  const usable = f.path !== null && f.version !== null && f.mode !== null && f.mode !== 'unusable';
  const attributes = attributesOf(f, usable);
  const userns = `user namespaces: ${f.userNamespaces ? 'yes' : 'no'} (${f.userNamespacesDetail}${f.maxUserNamespaces === null ? '' : `, max ${f.maxUserNamespaces}`})`;
  const fakeroot = f.fakeroot ? `; fakeroot: ${f.fakeroot.ok ? 'yes' : 'no'} (${f.fakeroot.detail})` : '';
  if (f.path === null) {
    const detail = `no apptainer, singularity or bwrap found (APPTAINER_BIN, SINGULARITY_BIN, PATH, CVMFS); ${userns}`;
    return { result: { name: 'container', status: required ? 'fail' : 'skip', value: 'none', required, detail, failure: required ? 'WN_Resource' : null }, attributes };
  }
  const value = f.version === null ? `${f.flavor}` : `${f.flavor} ${f.version} (${f.mode})`;
  const where = `${f.path} via ${f.foundVia}`;
  const problem = problemOf(f, required);
  if (problem !== null) {
    return { result: { name: 'container', status: required ? 'fail' : 'warn', value, required, detail: `${problem}; ${where}; ${userns}${fakeroot}`, failure: required ? 'WN_Resource' : null }, attributes };
  }
  const tested = f.test ? f.test.detail : 'found but untested (no test image: policy containers.testImage, or the bundle\'s default image)';
  return { result: { name: 'container', status: 'pass', value, required, detail: `${where}; ${tested}; ${userns}${fakeroot}`, failure: null }, attributes };
}

export const container = defineValidator<ContainerFacts>({
  name: 'container',
  deadlineMs: 8000,
  probeTimeoutMs: 3000,
  isRequired: (req) => req.container !== undefined,
  collect: (ctx) => collectContainerFacts(ctx.host, { timeoutMs: ctx.probeTimeoutMs, signal: ctx.signal, bwrapFirst: ctx.requirements.container === 'bwrap', testImage: ctx.containerTestImage ?? null }),
  check: checkContainer,
});
