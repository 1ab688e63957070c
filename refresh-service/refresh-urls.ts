// The bundle's refresh_url (DESIGN.md section 9; issue 13 section 2): `register --url`, given once
// per instance of the service in failover order, else the config's publicUrl. One URL keeps the
// contract's string form; several become the list the agent fails over along. Each is checked as
// publicUrl is: http(s) without query or fragment, and not clear text to a non-loopback host
// (transport-policy.ts). Each instance checks a DPoP proof's htu against its own publicUrl, so
// every URL listed must be one instance's publicUrl.
import { ConfigError, UsageError } from '../shared/errors.ts';
import { MAX_REFRESH_URLS } from '../shared/protocol.ts';
import type { ServiceConfig } from './config.ts';
import { checkClearTextUrl } from './transport-policy.ts';

function checkedBase(config: Pick<ServiceConfig, 'allowInsecureHttp'>, raw: string, what: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${what} '${raw}' is not a URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) throw new UsageError(`${what} '${raw}': expected an http(s) URL without query or fragment`);
  checkClearTextUrl(config, raw, what);
  return raw.replace(/\/+$/, '');
}

/** The checked base URLs (no trailing slash), in failover order; `given` is --url, once or repeated. */
export function bundleRefreshUrls(config: Pick<ServiceConfig, 'allowInsecureHttp' | 'publicUrl'>, given: string | readonly string[] | undefined): string[] {
  const list = given === undefined ? [] : typeof given === 'string' ? [given] : [...given];
  if (list.length === 0 && config.publicUrl === '') throw new ConfigError('no refresh URL for the bundle: give --url or set publicUrl in the config');
  const what = list.length > 0 ? '--url' : 'publicUrl';
  if (list.length === 0) list.push(config.publicUrl);
  if (list.length > MAX_REFRESH_URLS) throw new UsageError(`--url given ${list.length} times; a bundle lists at most ${MAX_REFRESH_URLS} refresh URLs (one per instance)`);
  const bases = list.map((raw) => checkedBase(config, raw, what));
  const twice = bases.find((b, i) => bases.indexOf(b) !== i);
  if (twice !== undefined) throw new UsageError(`--url '${twice}' is given twice; give each instance's URL once`);
  return bases;
}

/** The bundle's `refresh_url`: the string of the contract for one URL, the failover list for several. */
export function refreshUrlField(bases: readonly string[]): string | string[] {
  return bases.length === 1 ? bases[0]! : [...bases];
}
