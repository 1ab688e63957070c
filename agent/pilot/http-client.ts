// The agent's HTTP client: keep-alive connections, TLS trust chosen like grid
// middleware does (bundle CA, X509_CERT_DIR, SSL_CERT_FILE, else the system store) and
// proxies from HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { GlideinError } from '../../shared/errors.ts';
import { MAX_BODY_BYTES } from '../../shared/protocol.ts';
import { readdirSync, statSync } from 'node:fs';
import { readFileSafelySync } from '../../shared/safe-open.ts';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';

export interface TrustChoice {
  /** PEM certificates to trust; undefined = Node's default store. */
  ca: string[] | undefined;
  /** Where they came from, for logs. */
  source: 'bundle' | 'X509_CERT_DIR' | 'SSL_CERT_FILE' | 'system';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const CA_FILE = { code: 'GLIDEIN_ERR_CONFIG', what: 'CA file', maxBytes: 4 * 1024 * 1024 } as const;

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
      out.push(...certsIn(readFileSafelySync(p, CA_FILE).toString('utf8')));
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
      const certs = certsIn(readFileSafelySync(file, CA_FILE).toString('utf8'));
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
  /** Milliseconds a whole request (connect, headers, body) may take. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text, at most MAX_BODY_BYTES. */
  text: string;
}

/** One request's own bounds: a shorter timeout (the final report), an abort (a drain). */
export interface RequestLimits {
  timeoutMs?: number;
  /** Aborting it ends the request at once (a drain: issue 26 item 3). */
  signal?: AbortSignal;
  /** A larger answer than MAX_BODY_BYTES this request may take (a script: issue 24 section 5). */
  maxBodyBytes?: number;
}

export interface HttpClient {
  trust: TrustChoice;
  timeoutMs: number;
  /** POST a JSON body; resolves with any status, rejects on transport failure, timeout, abort or an oversized body. */
  postJson(url: string, headers: Record<string, string>, body: string, limits?: RequestLimits): Promise<HttpResponse>;
  close(): Promise<void>;
}

/** The proxy variables of `env` only (lower case wins, as curl does), so nothing else counts. */
function proxyEnvOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const pick = (name: string) => env[name.toLowerCase()] ?? env[name] ?? '';
  return { HTTP_PROXY: pick('HTTP_PROXY'), HTTPS_PROXY: pick('HTTPS_PROXY'), NO_PROXY: pick('NO_PROXY') };
}

/**
 * One keep-alive agent per scheme for all of the pilot's calls to the service. Node's own
 * http/https (with its native parser and `proxyEnv` for HTTPS_PROXY/NO_PROXY) rather than
 * undici: undici's WebAssembly HTTP parser alone keeps about 28 MiB resident in an idle pilot
 * (measured: 84 vs 56 MiB VmRSS for the same keep-alive request loop).
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const trust = chooseTrust(options.bundleCa, options.env);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const common = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 4, proxyEnv: proxyEnvOf(options.env) };
  const agents = {
    'http:': new http.Agent(common),
    'https:': new https.Agent({ ...common, ...(trust.ca ? { ca: trust.ca } : {}) }),
  };
  const postJson = (url: string, headers: Record<string, string>, body: string, limits: RequestLimits = {}): Promise<HttpResponse> => {
    const target = new URL(url);
    const ms = Math.min(timeoutMs, limits.timeoutMs ?? timeoutMs);
    const timeout = AbortSignal.timeout(ms);
    const signal = limits.signal ? AbortSignal.any([timeout, limits.signal]) : timeout;
    const scheme = target.protocol === 'https:' ? 'https:' : target.protocol === 'http:' ? 'http:' : undefined;
    if (!scheme) return Promise.reject(new GlideinError('GLIDEIN_ERR_HTTP', `${url}: expected an http or https URL`));
    const send = scheme === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(target, {
        method: 'POST',
        agent: agents[scheme],
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        signal,
      }, (res) => {
        const chunks: Buffer[] = [];
        const maxBytes = limits.maxBodyBytes ?? MAX_BODY_BYTES;
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            res.destroy();
            reject(new GlideinError('GLIDEIN_ERR_HTTP', `${url}: response body larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => reject(new GlideinError('GLIDEIN_ERR_HTTP', `${url}: ${e.message}`, { cause: e })));
      });
      req.on('error', (e) => {
        const why = timeout.aborted ? `no answer within ${ms} ms` : limits.signal?.aborted ? 'request abandoned: the pilot is draining' : e.message;
        reject(new GlideinError('GLIDEIN_ERR_HTTP', `${url}: ${why}`, { cause: e }));
      });
      req.end(body);
    });
  };
  return {
    trust,
    timeoutMs,
    postJson,
    close: async () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
