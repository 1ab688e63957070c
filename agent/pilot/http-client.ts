// The agent's HTTP client (undici): keep-alive connections, TLS trust chosen like grid
// middleware does (bundle CA, X509_CERT_DIR, SSL_CERT_FILE, else the system store) and
// proxies from HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
import { EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';

export interface TrustChoice {
  /** PEM certificates to trust; undefined = Node's default store. */
  ca: string[] | undefined;
  /** Where they came from, for logs. */
  source: 'bundle' | 'X509_CERT_DIR' | 'SSL_CERT_FILE' | 'system';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
/** OpenSSL hashed-directory names: 8 hex digits, a dot, a collision counter (grid CA dirs). */
const HASHED_NAME = /^[0-9a-f]{8}\.\d+$/;

function certsIn(text: string): string[] {
  return text.match(PEM_CERT) ?? [];
}

/** The CA certificates of a hashed grid CA directory (/etc/grid-security/certificates). */
export function readHashedCaDir(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!HASHED_NAME.test(name)) continue;
    try {
      const p = join(dir, name);
      if (!statSync(p).isFile()) continue;
      out.push(...certsIn(readFileSync(p, 'utf8')));
    } catch {
      // An unreadable entry is skipped: the others may still validate the service.
    }
  }
  return out;
}

/** Decide which CAs verify the refresh service. The bundle's CA wins: the factory knows its own service. */
export function chooseTrust(bundleCa: string | undefined, env: NodeJS.ProcessEnv): TrustChoice {
  if (bundleCa && certsIn(bundleCa).length > 0) return { ca: certsIn(bundleCa), source: 'bundle' };
  const dir = env['X509_CERT_DIR'];
  if (dir) {
    try {
      const certs = readHashedCaDir(dir);
      if (certs.length > 0) return { ca: certs, source: 'X509_CERT_DIR' };
    } catch {
      /* fall through */
    }
  }
  const file = env['SSL_CERT_FILE'];
  if (file) {
    try {
      const certs = certsIn(readFileSync(file, 'utf8'));
      if (certs.length > 0) return { ca: certs, source: 'SSL_CERT_FILE' };
    } catch {
      /* fall through */
    }
  }
  let system: string[] = [];
  try {
    system = getCACertificates('system');
  } catch {
    /* older runtimes: Node's bundled store */
  }
  return { ca: system.length > 0 ? [...system, ...getCACertificates('bundled')] : undefined, source: 'system' };
}

export interface HttpClientOptions {
  bundleCa: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Milliseconds to wait for response headers and body. */
  timeoutMs?: number;
}

export interface HttpClient {
  dispatcher: Dispatcher;
  trust: TrustChoice;
  timeoutMs: number;
  close(): Promise<void>;
}

/** One keep-alive dispatcher for all of the pilot's calls to the service. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const trust = chooseTrust(options.bundleCa, options.env);
  const env = options.env;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const tls = trust.ca ? { ca: trust.ca } : {};
  // Pass the proxy settings explicitly ('' = none) so only the given environment counts.
  const dispatcher = new EnvHttpProxyAgent({
    httpProxy: env['http_proxy'] ?? env['HTTP_PROXY'] ?? '',
    httpsProxy: env['https_proxy'] ?? env['HTTPS_PROXY'] ?? '',
    noProxy: env['no_proxy'] ?? env['NO_PROXY'] ?? '',
    connect: { ...tls, timeout: 10_000 },
    requestTls: tls,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return {
    dispatcher,
    trust,
    timeoutMs,
    close: async () => {
      await dispatcher.close().catch(() => undefined);
    },
  };
}
