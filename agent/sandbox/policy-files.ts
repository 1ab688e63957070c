// Every file a site policy names, loaded and checked when the policy is (issue 26 item 4): the
// mapfile and each issuer's jwksFile. A missing mapfile or a garbage key set is an exit 2 naming
// the file before anything runs, not a held job per launch (`exec`), a passing `validate`, or a
// pilot that holds every job it is given. Jobs still read the files again at launch, so an edit
// made while a pilot runs takes effect.
import { loadPolicy, type Policy } from './policy.ts';
import { loadMapfile } from './mapfile.ts';
import { readJwksFile } from './jwks-file.ts';

/** Load the mapfile and every jwksFile of `policy`; throws GLIDEIN_ERR_POLICY naming the first bad one. */
export async function checkPolicyFiles(policy: Policy): Promise<void> {
  if (policy.mapfile !== null) await loadMapfile(policy.mapfile);
  for (const issuer of Object.values(policy.issuers)) await readJwksFile(issuer.jwksFile);
}

/** loadPolicy, then checkPolicyFiles: what every command that is given --policy uses. */
export async function loadCheckedPolicy(path?: string): Promise<Policy> {
  const policy = await loadPolicy(path);
  await checkPolicyFiles(policy);
  return policy;
}
