// Registering a pilot (at submission): a new refresh family with its first token, the first
// C-CRED and S-CRED, all in the bundle the factory ships with the pilot. The credentials are
// minted and the entry's authMethod checked before anything is written.
import { UsageError } from '../shared/errors.ts';
import { BUNDLE_VERSION, isSafeId, type BundleWire } from '../shared/protocol.ts';
import { effectiveIssuer, type ServiceConfig } from './config.ts';
import { openServiceContext } from './context.ts';
import { mintCredentials } from './mint.ts';
import { hashRefreshToken, newRefreshToken } from './refresh-token.ts';
import { bundleRefreshUrls, refreshUrlField } from './refresh-urls.ts';
import { checkRegistration, entryBundleFields, registrationEntry } from './entries/entry-register.ts';
import { parseGlideinWmsIdentity } from '../agent/condor/glideinwms-attrs.ts';
import { isGlideinError } from '../shared/errors.ts';

const FLAG_OF: Readonly<Record<string, string>> = { client_name: '--client-name', client_group: '--client-group', schedd: '--schedd', cluster_id: '--cluster-id', proc_id: '--proc-id' };

/** The agent's own rule for the bundle field, so a pilot never refuses what register wrote; the message names the flag. */
function checkGlideinWmsRegistration(values: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(values)) {
    try {
      parseGlideinWmsIdentity({ [k]: v }, 'register');
    } catch (e) {
      if (!isGlideinError(e)) throw e;
      throw new UsageError(`${FLAG_OF[k] ?? k} '${v}' is not valid; expected ${e.message.replace(/^.*expected /, '')}`, { cause: e });
    }
  }
}

export interface RegisterOptions {
  stateDir: string;
  config: ServiceConfig;
  glideinId: string;
  entry: string;
  /** The base URL(s) the pilot will use, one per instance in failover order (default: config publicUrl). */
  url?: string | readonly string[];
  /** The pilot's maximum lifetime in seconds (default: config refreshFamilyLifetime). */
  lifetime?: number;
  /**
   * What GlideinWMS's startd attributes need from the submission (issue 24 section 4), bundle
   * `glideinwms`: client_name, client_group (GLIDECLIENT_Name/_Group), schedd, cluster_id, proc_id.
   */
  glideinwms?: Record<string, string | number>;
}

export async function registerPilot(options: RegisterOptions): Promise<BundleWire> {
  const { config } = options;
  if (!isSafeId(options.glideinId)) throw new UsageError(`--glidein-id '${options.glideinId}' is not valid; expected letters, digits, and _.@:- (at most 128)`);
  if (!isSafeId(options.entry)) throw new UsageError(`--entry '${options.entry}' is not valid; expected letters, digits, and _.@:- (at most 128)`);
  const lifetime = options.lifetime ?? config.refreshFamilyLifetime;
  if (!Number.isInteger(lifetime) || lifetime < 60 || lifetime > 366 * 24 * 3600) throw new UsageError(`--lifetime ${lifetime} is not valid; expected 60 to ${366 * 24 * 3600} seconds`);
  const bases = bundleRefreshUrls(config, options.url);
  const entry = registrationEntry(config, options.entry);
  checkGlideinWmsRegistration(options.glideinwms ?? {});
  const ctx = await openServiceContext(options.stateDir, config);
  try {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + lifetime;
    const credentials = await mintCredentials(
      { config, issuer: effectiveIssuer(config, bases[0]!), poolKey: ctx.poolKey, signingKeys: ctx.signingKeys, store: ctx.store, entries: ctx.entries },
      { glideinId: options.glideinId, entry: options.entry, now, familyExpiresAt: expiresAt },
    );
    const auth = checkRegistration(options.entry, entry, credentials, now);
    const token = newRefreshToken();
    await ctx.store.registerFamily({ glideinId: options.glideinId, entry: options.entry, createdAt: now, expiresAt }, hashRefreshToken(token));
    return {
      version: BUNDLE_VERSION,
      glidein_id: options.glideinId,
      entry: options.entry,
      refresh_url: refreshUrlField(bases),
      refresh_token: token,
      trust_domain: entry.trustDomain,
      ...(ctx.bundleCa === undefined ? {} : { ca: ctx.bundleCa }),
      credentials: credentials as unknown as Record<string, unknown>[],
      expires_at: expiresAt,
      ...(await entryBundleFields(ctx.store, options.entry, entry, auth, options.glideinwms)),
    };
  } finally {
    await ctx.store.close();
  }
}
