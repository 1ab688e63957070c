// Credentials never travel in clear text off the machine (issue 11 item 14): `serve` without TLS
// only on a loopback address (e.g. behind a TLS-terminating proxy on the same host), and
// http:// refresh URLs only for loopback hosts, unless the config says allowInsecureHttp.
import { isIPv4 } from 'node:net';
import { ConfigError } from '../shared/errors.ts';
import type { ServiceConfig } from './config.ts';

const ADVICE = 'set "allowInsecureHttp": true in the config to allow it knowingly';

/** localhost, 127.0.0.0/8 and ::1 (bracketed or not). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIPv4(h) && h.startsWith('127.');
}

/** An http:// URL for a non-loopback host is refused (ConfigError naming `what`). */
export function checkClearTextUrl(config: Pick<ServiceConfig, 'allowInsecureHttp'>, url: string, what: string): void {
  if (config.allowInsecureHttp) return;
  const u = new URL(url);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw new ConfigError(`${what} '${url}' is http:// to a non-loopback host: pilots would send refresh tokens and receive credentials in clear text; use https://, or ${ADVICE}`);
  }
}

/** `serve` on a non-loopback address needs TLS; its publicUrl must not be clear text either. */
export function checkServeTransport(config: ServiceConfig, listen: { given: string; host: string }, tls: boolean): void {
  if (!config.allowInsecureHttp && !tls && !isLoopbackHost(listen.host)) {
    throw new ConfigError(`--listen ${listen.given}: serving without TLS on a non-loopback address sends credentials in clear text; give --tls-cert and --tls-key, or ${ADVICE}`);
  }
  if (config.publicUrl !== '') checkClearTextUrl(config, config.publicUrl, 'publicUrl');
}
