// What minting needs per entry at run time: the entry's config (or the default entry from the
// top-level keys), the POOL keys of every entry and CE collector (read once, when the service
// context opens, so a bad key file fails before anything starts), and one cached
// client-credentials token source per IdP (its secret read from a 0600 file).
import type { SigningKeyFile } from '../../shared/idtoken.ts';
import { readPoolKeyFile } from '../pool-key-file.ts';
import { GlideinError } from '../../shared/errors.ts';
import type { ServiceConfig } from '../config.ts';
import { readSecretFile } from '../state-dir.ts';
import { ClientCredentialsSource } from './client-credentials.ts';
import { defaultEntry, type EntryConfig, type EntryDefaults } from './entry-config.ts';

/** A family's entry is no longer in the config (or a caller named one that never was). */
export class EntryNotConfigured extends GlideinError {
  readonly entry: string;
  constructor(entry: string, known: readonly string[]) {
    super('GLIDEIN_ERR_CONFIG', `entry '${entry}' is not in the config's entries (${known.join(', ')})`);
    this.entry = entry;
  }
}

/** The entry `name`: from `entries` when that is set (else EntryNotConfigured), else the default entry. */
export function entryFor(config: Pick<ServiceConfig, 'entries'> & EntryDefaults, name: string): EntryConfig {
  const names = Object.keys(config.entries);
  if (names.length === 0) return defaultEntry(config);
  const e = Object.hasOwn(config.entries, name) ? config.entries[name] : undefined;
  if (e === undefined) throw new EntryNotConfigured(name, names);
  return e;
}

export interface EntryRuntime {
  poolKey(path: string): SigningKeyFile;
  idp(name: string): ClientCredentialsSource;
}

/** Read every entry's POOL key and every IdP secret; `topKey` is the top-level POOL key, already read. */
export async function openEntryRuntime(config: ServiceConfig, topKey: SigningKeyFile): Promise<EntryRuntime> {
  const keys = new Map<string, SigningKeyFile>([[config.poolSigningKeyFile, topKey]]);
  for (const [name, e] of Object.entries(config.entries)) {
    const files: [string | undefined, string][] = [[e.poolSigningKeyFile, 'poolSigningKeyFile'], [e.ceCollector?.poolSigningKeyFile, 'ceCollector.poolSigningKeyFile']];
    for (const [path, key] of files) {
      if (path !== undefined && !keys.has(path)) keys.set(path, await readPoolKeyFile(path, `entries.${name}.${key}`));
    }
  }
  const idps = new Map<string, ClientCredentialsSource>();
  for (const [name, idp] of Object.entries(config.idps)) {
    const secret = (await readSecretFile(idp.clientSecretFile)).replace(/\r?\n$/, '');
    if (secret === '') throw new GlideinError('GLIDEIN_ERR_CONFIG', `idps.${name}.clientSecretFile ${idp.clientSecretFile} is empty`);
    idps.set(name, new ClientCredentialsSource(name, idp, secret, config.allowInsecureHttp));
  }
  return {
    poolKey: (path) => {
      const k = keys.get(path);
      if (!k) throw new GlideinError('GLIDEIN_ERR_CONFIG', `POOL key ${path} was not read when the service opened`);
      return k;
    },
    idp: (name) => {
      const s = idps.get(name);
      if (!s) throw new GlideinError('GLIDEIN_ERR_CONFIG', `idp '${name}' is not configured`);
      return s;
    },
  };
}
