// The bundle fields only HTCondor mode reads (issue 14, item 2): `collector` (one or more
// host:port, set by the service from its `collector` config key), `ccb` (reach the startd
// through the collector when the node is behind NAT), `site` (GLIDEIN_Site; default the entry)
// and `condor_config` (the factory's extra settings, from the service's `condorConfig`).
// Missing or malformed fields are GLIDEIN_ERR_BUNDLE (exit 2) naming the field.
import { GlideinError } from '../../shared/errors.ts';
import { readJsonFile } from '../../shared/json-file.ts';
import { isSafeId } from '../../shared/protocol.ts';
import { parseGlideinWmsIdentity, type GlideinWmsIdentity } from './glideinwms-attrs.ts';

export type FactoryValue = string | number | boolean;

export interface CondorBundleFields {
  collectors: string[];
  ccb: boolean;
  site: string | null;
  condorConfig: Record<string, FactoryValue>;
  /** GlideinWMS's names for this glidein (bundle `glideinwms`, issue 24 section 4). */
  glideinwms: GlideinWmsIdentity;
}

export const MAX_COLLECTORS = 16;
const MAX_EXTRA_CONFIG = 200;
// A DNS name, an IPv4 address or a bracketed IPv6 address, then a port.
const HOST_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/;

function fail(where: string, message: string): never {
  throw new GlideinError('GLIDEIN_ERR_BUNDLE', `${where}: ${message}`);
}

export function parseCollectors(value: unknown, where: string): string[] {
  if (value === undefined) fail(where, "collector: --condor needs the bundle's collector (host:port, or a list of them); ask the factory to set 'collector' in the refresh service's config");
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_COLLECTORS) fail(where, `collector: expected 1 to ${MAX_COLLECTORS} host:port entries`);
  return list.map((c, i) => {
    const name = Array.isArray(value) ? `collector[${i}]` : 'collector';
    const m = typeof c === 'string' ? HOST_PORT.exec(c) : null;
    const port = m ? Number(m[1]) : 0;
    if (!m || port < 1 || port > 65535) fail(where, `${name}: ${JSON.stringify(c)} is not host:port (a DNS name or an address, and a port 1-65535)`);
    return c as string;
  });
}

export function parseExtraConfig(value: unknown, where: string): Record<string, FactoryValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(where, 'condor_config: expected an object of NAME → string, number or boolean');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_EXTRA_CONFIG) fail(where, `condor_config: ${entries.length} settings; at most ${MAX_EXTRA_CONFIG}`);
  const out: Record<string, FactoryValue> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      fail(where, `condor_config.${k}: expected a string, a finite number or a boolean`);
    }
    out[k] = v;
  }
  return out;
}

/** The HTCondor fields of an already validated bundle object. */
export function parseCondorBundleFields(raw: Record<string, unknown>, where = 'bundle'): CondorBundleFields {
  const ccb = raw['ccb'] ?? false;
  if (typeof ccb !== 'boolean') fail(where, 'ccb: expected true or false');
  const site = raw['site'] ?? null;
  if (site !== null && !isSafeId(site)) fail(where, 'site: expected letters, digits, and _.@:- (at most 128)');
  return {
    collectors: parseCollectors(raw['collector'], where),
    ccb,
    site: site as string | null,
    condorConfig: parseExtraConfig(raw['condor_config'], where),
    glideinwms: parseGlideinWmsIdentity(raw['glideinwms'], where),
  };
}

/** Read the bundle file again for its HTCondor fields (loadBundle has checked its owner and mode). */
export async function readCondorBundleFields(path: string): Promise<CondorBundleFields> {
  const raw = (await readJsonFile(path, { code: 'GLIDEIN_ERR_BUNDLE', what: 'bundle', maxBytes: 256 * 1024, object: true })) as Record<string, unknown>;
  return parseCondorBundleFields(raw, `bundle ${path}`);
}
