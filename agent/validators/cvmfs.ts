// cvmfs: every required repository mounted and readable under /cvmfs/<repo>, probed out of
// process with a hard kill deadline. Nothing required: a skip that still says whether /cvmfs exists.
import { collectCvmfsFacts, type CvmfsFacts } from '../validate/facts/cvmfs.ts';
import { defineValidator } from '../validate/validator.ts';
import type { AttributeValue, CheckOutcome, Requirements } from '../validate/types.ts';

export function checkCvmfs(f: CvmfsFacts, req: Requirements): CheckOutcome {
  const required = req.cvmfs ?? null;
  const attributes: Record<string, AttributeValue> = {};
  if (f.rootPresent) attributes.CVMFS_MOUNT_DIR = f.root;
  const ok = f.repos.filter((r) => r.state === 'ok');
  // OSG convention: HAS_CVMFS_<repo with dots as underscores>.
  for (const r of ok) attributes[`HAS_CVMFS_${r.repo.replace(/[.-]/g, '_')}`] = true;
  if (required === null || required.length === 0) {
    return { result: { name: 'cvmfs', status: 'skip', value: null, required: null, detail: `none required; ${f.root} ${f.rootPresent ? 'present' : 'absent'}`, failure: null }, attributes };
  }
  const bad = f.repos.filter((r) => r.state !== 'ok');
  const detail = f.repos.map((r) => `${r.repo}: ${r.detail}`).join('; ');
  return {
    result: { name: 'cvmfs', status: bad.length ? 'fail' : 'pass', value: ok.map((r) => r.repo), required, detail, failure: bad.length ? 'WN_Resource' : null },
    attributes,
  };
}

export const cvmfs = defineValidator<CvmfsFacts>({
  name: 'cvmfs',
  deadlineMs: 7000,
  probeTimeoutMs: 5000,
  isRequired: (req) => (req.cvmfs?.length ?? 0) > 0,
  collect: (ctx) => collectCvmfsFacts(ctx.host, ctx.requirements.cvmfs ?? [], { timeoutMs: ctx.probeTimeoutMs, signal: ctx.signal }),
  check: checkCvmfs,
});
