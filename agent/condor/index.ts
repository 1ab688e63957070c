// HTCondor mode's public API for `glidein run --condor [DIR]` (issue 14).
import { UsageError } from '../../shared/errors.ts';

export { CondorSource, type CondorSourceOptions } from './condor-source.ts';
export { discoverCondor, MIN_CONDOR_VERSION, type CondorInstall } from './discover.ts';

/**
 * Take `--condor [DIR]` out of run's argv (before a literal `--`): its DIR is optional, which
 * parseArgs cannot express. A following word that starts with '-' is the next flag, not DIR.
 */
export function condorFlag(argv: readonly string[]): { argv: string[]; condor: boolean; condorDir: string | undefined } {
  const out: string[] = [];
  let condor = false;
  let condorDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a !== '--condor' && !a.startsWith('--condor=')) {
      out.push(a);
      continue;
    }
    if (condor) throw new UsageError('run: --condor given twice');
    condor = true;
    const inline = a.startsWith('--condor=') ? a.slice('--condor='.length) : undefined;
    const next = argv[i + 1];
    const dir = inline ?? (next !== undefined && !next.startsWith('-') ? (i++, next) : undefined);
    if (dir !== undefined && !dir.startsWith('/')) throw new UsageError(`run: --condor ${dir}: expected an absolute directory (HTCondor's installation)`);
    condorDir = dir;
  }
  return { argv: out, condor, condorDir };
}
