// container: apptainer or singularity, its version and mode, and unprivileged user namespaces.
// `container=singularity` is met by apptainer too (it provides the singularity command, and
// GlideinWMS sets HAS_SINGULARITY for either); `container=apptainer` only by apptainer.
import { collectContainerFacts, type ContainerFacts } from '../validate/facts/container.ts';
import { defineValidator } from '../validate/validator.ts';
import type { AttributeValue, CheckOutcome, Requirements } from '../validate/types.ts';

export function checkContainer(f: ContainerFacts, req: Requirements): CheckOutcome {
  const required = req.container ?? null;
  const usable = f.path !== null && f.version !== null && f.mode !== null && f.mode !== 'unusable';
  const attributes: Record<string, AttributeValue> = {
    HAS_SINGULARITY: usable,
    HAS_UNPRIVILEGED_USER_NAMESPACES: f.userNamespaces,
  };
  if (usable) {
    attributes.GWMS_SINGULARITY_PATH = f.path!;
    attributes.GWMS_SINGULARITY_VERSION = `${f.flavor} ${f.version}`;
    attributes.GWMS_SINGULARITY_MODE = f.mode!;
  }
  const userns = `user namespaces: ${f.userNamespaces ? 'yes' : 'no'} (${f.userNamespacesDetail}${f.maxUserNamespaces === null ? '' : `, max ${f.maxUserNamespaces}`})`;
  if (f.path === null) {
    const detail = `no apptainer or singularity found (APPTAINER_BIN, SINGULARITY_BIN, PATH, CVMFS); ${userns}`;
    return { result: { name: 'container', status: required ? 'fail' : 'skip', value: 'none', required, detail, failure: required ? 'WN_Resource' : null }, attributes };
  }
  const value = f.version === null ? `${f.flavor}` : `${f.flavor} ${f.version} (${f.mode})`;
  const where = `${f.path} via ${f.foundVia}`;
  let problem: string | null = null;
  if (f.error !== null) problem = f.error;
  else if (f.mode === 'unusable') problem = 'not setuid and user namespaces do not work, so it cannot start containers';
  else if (required === 'apptainer' && f.flavor !== 'apptainer') problem = `apptainer required, found ${f.flavor}`;
  if (problem !== null) {
    return { result: { name: 'container', status: required ? 'fail' : 'warn', value, required, detail: `${problem}; ${where}; ${userns}`, failure: required ? 'WN_Resource' : null }, attributes };
  }
  return { result: { name: 'container', status: 'pass', value, required, detail: `${where}; ${userns}`, failure: null }, attributes };
}

export const container = defineValidator<ContainerFacts>({
  name: 'container',
  deadlineMs: 8000,
  probeTimeoutMs: 3000,
  isRequired: (req) => req.container !== undefined,
  collect: (ctx) => collectContainerFacts(ctx.host, { timeoutMs: ctx.probeTimeoutMs, signal: ctx.signal }),
  check: checkContainer,
});
