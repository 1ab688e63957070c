// The node keys of the service config (issue 14, item 2; issue 22): `collector`, `condorConfig`,
// `ccb`, `site` and `container`, at the top level and per entry, copied into bundles as
// `collector`, `condor_config`, `ccb`, `site` and `container`. They are checked when the config loads with the agent's own
// rules (agent/condor/bundle-fields.ts, agent/condor/factory-config.ts,
// shared/container-entry.ts: pure modules), so a
// bundle the service makes is never refused by a pilot's `--condor` and a bad factory setting
// is an exit 2 naming the config key, not a pilot failing on a worker node hours later.
import { ConfigError, GlideinError } from '../../shared/errors.ts';
import { isSafeId } from '../../shared/protocol.ts';
import { parseCollectors, parseExtraConfig, type FactoryValue } from '../../agent/condor/bundle-fields.ts';
import { checkFactoryConfig } from '../../agent/condor/factory-config.ts';
import { parseContainerEntry, type ContainerEntry } from '../../shared/container-entry.ts';
import { parseGlideinWmsIdentity } from '../../agent/condor/glideinwms-attrs.ts';

export interface CondorKeys {
  /** host:port of the VO's collectors (bundle `collector`); empty: not put into the bundle. */
  collector: string[];
  /** The factory's extra HTCondor settings (bundle `condor_config`). */
  condorConfig: Record<string, FactoryValue>;
  /** Reach the startd through the collector's CCB (nodes behind NAT; bundle `ccb`). */
  ccb: boolean;
  /** GLIDEIN_Site (bundle `site`); '': the agent uses the entry name. */
  site: string;
  /** The entry's container use (bundle `container`: mode, defaultImage; issue 22); null: not set. */
  container: ContainerEntry | null;
  /**
   * GlideinWMS's names for the entry's glideins (issue 24 section 4; bundle `glideinwms`):
   * `factory` (GLIDEIN_Factory), `name` (GLIDEIN_Name, the factory's glidein group),
   * `resourceName` (GLIDEIN_ResourceName), `requiredOs` (GLIDEIN_REQUIRED_OS); {} when not set.
   */
  glideinwms: GlideinWmsEntryKeys;
}

export interface GlideinWmsEntryKeys {
  factory?: string;
  name?: string;
  resourceName?: string;
  requiredOs?: string;
}

const GLIDEINWMS_KEYS = { factory: 'factory', name: 'name', resourceName: 'resource_name', requiredOs: 'required_os' } as const;

export const CONDOR_KEY_NAMES = ['collector', 'condorConfig', 'ccb', 'site', 'container', 'glideinwms'] as const;
export const NO_CONDOR_KEYS: CondorKeys = { collector: [], condorConfig: {}, ccb: false, site: '', container: null, glideinwms: {} };

/** The config's `glideinwms` object, checked with the agent's rule for the bundle field it becomes. */
function parseGlideinWmsKeys(file: string, key: string, v: unknown): GlideinWmsEntryKeys {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(file, key, 'an object of factory, name, resourceName, requiredOs', v);
  const bundle: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
    if (!(k in GLIDEINWMS_KEYS)) throw new ConfigError(`${file}: unknown key '${key}.${k}'; expected ${Object.keys(GLIDEINWMS_KEYS).join(', ')}`);
    bundle[GLIDEINWMS_KEYS[k as keyof typeof GLIDEINWMS_KEYS]] = value;
  }
  agentRule(file, key, 'glideinwms', (w) => parseGlideinWmsIdentity(bundle, w));
  return v as GlideinWmsEntryKeys;
}

/** The bundle's `glideinwms` object: the entry's names and what `register` was told (client, submission). */
export function glideinWmsBundleField(keys: GlideinWmsEntryKeys, registration: Record<string, string | number> = {}): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  for (const [k, field] of Object.entries(GLIDEINWMS_KEYS)) {
    const v = keys[k as keyof GlideinWmsEntryKeys];
    if (v !== undefined) out[field] = v;
  }
  Object.assign(out, registration);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Run one of the agent's bundle checks; its GLIDEIN_ERR_BUNDLE becomes a ConfigError naming `key`. */
function agentRule<T>(file: string, key: string, bundleField: string, check: (where: string) => T): T {
  try {
    return check(file);
  } catch (e) {
    if (!(e instanceof GlideinError)) throw e;
    const prefix = `${file}: ${bundleField}`;
    const rest = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : `: ${e.message}`;
    throw new ConfigError(`${file}: ${key}${rest}`, { cause: e });
  }
}

function fail(file: string, key: string, expected: string, value: unknown): never {
  throw new ConfigError(`${file}: ${key}: expected ${expected} (got ${JSON.stringify(value)?.slice(0, 80)})`);
}

/** Check the keys in `raw` (a key left out is taken from `defaults`); `prefix` is '' or `entries.NAME.`. */
export function parseCondorKeys(raw: Record<string, unknown>, file: string, prefix: string, defaults: CondorKeys): CondorKeys {
  // Only these keys: `defaults` may be a whole EntryDefaults, whose other keys must not leak.
  const out: CondorKeys = { collector: defaults.collector, condorConfig: defaults.condorConfig, ccb: defaults.ccb, site: defaults.site, container: defaults.container, glideinwms: defaults.glideinwms };
  const collector = raw['collector'];
  if (collector !== undefined) {
    const none = Array.isArray(collector) && collector.length === 0;
    out.collector = none ? [] : agentRule(file, `${prefix}collector`, 'collector', (w) => parseCollectors(collector, w));
  }
  const extra = raw['condorConfig'];
  if (extra !== undefined) {
    out.condorConfig = agentRule(file, `${prefix}condorConfig`, 'condor_config', (w) => {
      const values = parseExtraConfig(extra, w);
      checkFactoryConfig(values, w);
      return values;
    });
  }
  const ccb = raw['ccb'];
  if (ccb !== undefined) out.ccb = typeof ccb === 'boolean' ? ccb : fail(file, `${prefix}ccb`, 'true or false', ccb);
  const site = raw['site'];
  if (site !== undefined) out.site = site === '' || isSafeId(site) ? site : fail(file, `${prefix}site`, 'letters, digits, and _.@:- (at most 128)', site);
  const container = raw['container'];
  // The agent's own bundle check, so register never hands out a bundle the pilot would refuse.
  if (container !== undefined) out.container = container === null ? null : agentRule(file, `${prefix}container`, 'container', (w) => parseContainerEntry(container, 'GLIDEIN_ERR_BUNDLE', w));
  const gwms = raw['glideinwms'];
  if (gwms !== undefined) out.glideinwms = parseGlideinWmsKeys(file, `${prefix}glideinwms`, gwms);
  return out;
}

/** The bundle fields for `keys` (only those set, so a bundle without HTCondor keys stays as before). */
export function condorBundleFields(keys: CondorKeys): Record<string, unknown> {
  return {
    ...(keys.collector.length > 0 ? { collector: keys.collector } : {}),
    ...(Object.keys(keys.condorConfig).length > 0 ? { condor_config: keys.condorConfig } : {}),
    ...(keys.ccb ? { ccb: true } : {}),
    ...(keys.site !== '' ? { site: keys.site } : {}),
    ...(keys.container !== null ? { container: { mode: keys.container.mode, ...(keys.container.defaultImage !== null ? { defaultImage: keys.container.defaultImage } : {}) } } : {}),
  };
}
