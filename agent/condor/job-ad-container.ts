// The image an HTCondor job asks for (issue 22): the job ad's `SingularityImage` (GlideinWMS's
// `+SingularityImage`) or HTCondor's own `ContainerImage`, as the job spec's `container` field.
// For the condor job wrapper: `parseJobSpec({..., container: jobAdContainer(adText).container})`.
// Only a string literal is taken (the starter's _CONDOR_JOB_AD copy holds the submit-time
// expression as written); an image that is not an absolute path (docker://, a registry name) is
// refused with a reason rather than run bare.
import { readFileSync } from 'node:fs';
import { isImagePath } from '../../shared/container-entry.ts';

export type JobAdContainer =
  | { container: { image: string } | null }
  | { unsupported: string };

/** A ClassAd string literal `"…"` (with \" and \\ escapes), or null for anything else. */
function stringLiteral(text: string, name: string): string | null | undefined {
  const m = new RegExp(`^${name}\\s*=\\s*(.*?)\\s*$`, 'im').exec(text);
  if (!m) return undefined;
  const v = m[1]!;
  if (!/^"(?:[^"\\\\]|\\\\.)*"$/.test(v)) return null;
  return v.slice(1, -1).replace(/\\\\(.)/g, '$1');
}

/** SingularityImage first (GlideinWMS), then ContainerImage (HTCondor); none: `{container: null}`. */
export function jobAdContainer(adText: string): JobAdContainer {
  for (const name of ['SingularityImage', 'ContainerImage']) {
    const v = stringLiteral(adText, name);
    if (v === undefined) continue;
    if (v === null) return { unsupported: `the job ad's ${name} is not a string literal` };
    if (v === '') continue;
    const shown = JSON.stringify(v.slice(0, 200));
    if (!isImagePath(v)) return { unsupported: `the job ad's ${name} ${shown} is not an absolute image path (unpacked directory or .sif; docker:// and registry names are not pulled)` };
    return { container: { image: v } };
  }
  return { container: null };
}

/** The same from the starter's copy of the job ad (_CONDOR_JOB_AD); an unreadable ad names none. */
export function readJobAdContainer(path: string | undefined): JobAdContainer {
  if (!path) return { container: null };
  try {
    return jobAdContainer(readFileSync(path, 'utf8'));
  } catch {
    return { container: null };
  }
}
