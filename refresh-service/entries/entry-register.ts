// The entry's part of `register` (issue 15): the entry named on the command line (refused with
// exit 2 when `entries` is set and does not name it), its authMethod checked before anything is
// written, then its parameters assigned and its bundle fields (the HTCondor ones of
// condor-keys.ts, `parameters`, `auth_method`) put beside the contract's.
import { UsageError } from '../../shared/errors.ts';
import type { ServiceConfig } from '../config.ts';
import type { WireCredential } from '../mint.ts';
import type { StateStore } from '../state/store.ts';
import { checkEntryAuthMethod, type AuthMethodRecord } from './auth-check.ts';
import type { EntryConfig } from './entry-config.ts';
import { condorBundleFields, glideinWmsBundleField } from './condor-keys.ts';
import { EntryNotConfigured, entryFor } from './entry-runtime.ts';
import { assignParameters, previewParameters } from './parameters.ts';

/** The entry `--entry NAME` names; UsageError (exit 2) naming it when it is not configured. */
export function registrationEntry(config: ServiceConfig, name: string): EntryConfig {
  try {
    return entryFor(config, name);
  } catch (e) {
    if (e instanceof EntryNotConfigured) throw new UsageError(`--entry '${name}' is not configured; expected one of the config's entries: ${Object.keys(config.entries).join(', ')}`);
    throw e;
  }
}

/** Check the authMethod against what the pilot would get; nothing is written. */
export function checkRegistration(name: string, entry: EntryConfig, credentials: readonly WireCredential[], now: number): AuthMethodRecord | undefined {
  return checkEntryAuthMethod(name, entry, credentials, previewParameters(entry.parameters), now);
}

/** The entry's bundle fields; assigns round-robin parameters (call once the family is registered). */
export async function entryBundleFields(store: StateStore, name: string, entry: EntryConfig, auth: AuthMethodRecord | undefined, registration?: Record<string, string | number>): Promise<Record<string, unknown>> {
  const parameters = await assignParameters(store, name, entry.parameters);
  const glideinwms = glideinWmsBundleField(entry.glideinwms, registration);
  return {
    ...condorBundleFields(entry),
    ...(glideinwms === undefined ? {} : { glideinwms }),
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    ...(auth === undefined ? {} : { auth_method: auth }),
  };
}
