// The service's POOL key files (poolSigningKeyFile, an entry's own): read with HTCondor's rules,
// and every refusal names the config key, so a newcomer knows what to set (issue 27 section 2).
import { readSigningKeyFile, type SigningKeyFile } from '../shared/idtoken.ts';
import { GlideinError } from '../shared/errors.ts';

/** Read the key file that config key `configKey` (e.g. `poolSigningKeyFile`) names. */
export async function readPoolKeyFile(path: string, configKey: string): Promise<SigningKeyFile> {
  try {
    return await readSigningKeyFile(path, undefined, `signing key file (${configKey})`);
  } catch (e) {
    if (!(e instanceof GlideinError) || e.details?.['problem'] !== 'missing') throw e;
    throw new GlideinError(e.code, `${e.message}; set ${configKey} in the --config file to the pool's HTCondor POOL key, or make a new key there with 'glidein refresh-service init-key --config FILE'`, {
      cause: e,
      ...(e.details === undefined ? {} : { details: e.details }),
    });
  }
}
