// An entry's authMethod checked at `register` (issue 15): the credentials and parameters the
// pilot would get are matched with the GlideinWMS auth_method rules (shared/auth-method.ts). An
// unmet group refuses the registration as a usage error (exit 2) naming the group and what is
// missing; a met requirement is recorded in the bundle, one chosen alternative per group.
import { matchAuthMethod } from '../../shared/auth-method.ts';
import { parseCredential, type Credential } from '../../shared/credential.ts';
import { UsageError } from '../../shared/errors.ts';
import type { WireCredential } from '../mint.ts';
import type { EntryConfig } from './entry-config.ts';

/** Bundle field `auth_method`: the requirement and, per group, the alternative that met it. */
export interface AuthMethodRecord {
  requirement: string;
  groups: { group: string; method: string; purpose?: string }[];
}

/** Match; throws UsageError when a group is unmet. Undefined when the entry has no authMethod. */
export function checkEntryAuthMethod(name: string, entry: EntryConfig, credentials: readonly WireCredential[], parameters: Readonly<Record<string, string>>, now: number): AuthMethodRecord | undefined {
  const req = entry.authRequirement;
  if (req === null) return undefined;
  // GlideinWMS matches against the credentials and, apart, the names of the parameters set.
  const creds: Credential[] = credentials.map((c, i) => parseCredential(c, `credentials[${i}]`));
  const m = matchAuthMethod(req, creds, { now, parameters });
  const groupText = (g: readonly string[]) => (g.length === 0 ? 'any' : g.join(','));
  if (!m.ok) {
    const have = creds.map((c) => `${c.type}/${c.purpose}`).join(', ') || 'none';
    const params = Object.keys(parameters).join(', ') || 'none';
    throw new UsageError(
      `entry '${name}': authMethod "${entry.authMethod}" group ${m.unmetGroup + 1} (${groupText(m.wanted)}) is not met: ${m.reason} (credentials: ${have}; parameters: ${params})`,
    );
  }
  return {
    requirement: entry.authMethod,
    groups: m.groups.map((g, i) => ({ group: groupText(req[i]!), method: g.method, ...(g.credential ? { purpose: g.credential.purpose } : {}) })),
  };
}
