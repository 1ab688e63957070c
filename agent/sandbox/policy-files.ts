// Every file a site policy names, loaded and checked when the policy is (issue 26 item 4): the
// mapfile and each issuer's jwksFile. A missing mapfile or a garbage key set is an exit 2 naming
// the file before anything runs, not a held job per launch (`exec`), a passing `validate`, or a
// pilot that holds every job it is given. Jobs still read the files again at launch, so an edit
// made while a pilot runs takes effect.
import { loadPolicy, type Policy } from './policy.ts';
import { loadMapfile } from './mapfile.ts';
import { readJwksFile } from './jwks-file.ts';
import type { Logger } from '../../shared/log.ts';

/**
 * Load the mapfile and every jwksFile of `policy`; throws GLIDEIN_ERR_POLICY naming the first bad
 * one. Mapfile lines HTCondor would skip are logged as warnings (refused with strictMapfile).
 */
export async function checkPolicyFiles(policy: Policy, log?: Logger): Promise<void> {
  if (policy.mapfile !== null) {
    const mapfile = await loadMapfile(policy.mapfile, { strict: policy.strictMapfile });
    for (const w of mapfile.warnings) log?.warn(`mapfile: ${w}`);
  }
  for (const issuer of Object.values(policy.issuers)) await readJwksFile(issuer.jwksFile);
}

/** loadPolicy, then checkPolicyFiles: what every command that is given --policy uses. */
export async function loadCheckedPolicy(path?: string, log?: Logger): Promise<Policy> {
  const policy = await loadPolicy(path);
  await checkPolicyFiles(policy, log);
  return policy;
}
