// `--require KEY=VALUE` items → Requirements. Every mistake is a UsageError (exit 2) that names
// the item and what was expected (DESIGN.md section 5).
import { UsageError } from '../../shared/errors.ts';
import { parseSize, SIZE_EXPECTED } from './size.ts';
import type { ContainerRequirement, Requirements } from './types.ts';

const KEYS = ['cores', 'memory', 'disk', 'gpus', 'gpu_memory', 'cuda', 'cvmfs', 'container'] as const;
type Key = (typeof KEYS)[number];
const KEYS_TEXT = 'cores=N, memory=SIZE, disk=SIZE, gpus=N, gpu_memory=SIZE, cuda=X.Y, cvmfs=REPO[,REPO...] or container=any|apptainer|singularity|bwrap';

/** A CVMFS repository name: a DNS-style name, nothing that could leave /cvmfs. */
const REPO = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/i;

function bad(item: string, expected: string): UsageError {
  return new UsageError(`validate: --require '${item}' is not valid; expected ${expected}`);
}

function count(item: string, value: string, min: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min) throw bad(item, `an integer of at least ${min}`);
  return Number(value);
}

export function parseRequirements(items: readonly string[]): Requirements {
  const req: Requirements = {};
  const seen = new Set<Key>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw bad(item, `KEY=VALUE with KEY one of ${KEYS_TEXT}`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`validate: --require '${item}': unknown requirement key '${key}'; expected one of ${KEYS_TEXT}`);
    }
    const k = key as Key;
    if (seen.has(k) && k !== 'cvmfs') throw bad(item, `${k} given once (it was already required)`);
    seen.add(k);
    switch (k) {
      case 'cores':
        req.cores = count(item, value, 1);
        break;
      case 'gpus':
        req.gpus = count(item, value, 0);
        break;
      case 'gpu_memory': {
        const bytes = parseSize(value);
        if (bytes === null) throw bad(item, SIZE_EXPECTED);
        req.gpuMemory = bytes;
        break;
      }
      case 'cuda':
        if (!/^\d{1,3}\.\d{1,3}$/.test(value)) throw bad(item, 'a CUDA version X.Y such as 12.2');
        req.cuda = value;
        break;
      case 'memory':
      case 'disk': {
        const bytes = parseSize(value);
        if (bytes === null) throw bad(item, SIZE_EXPECTED);
        req[k] = bytes;
        break;
      }
      case 'cvmfs': {
        const repos = value.split(',').map((s) => s.trim());
        for (const r of repos) if (!REPO.test(r)) throw bad(item, 'a comma-separated list of CVMFS repository names such as cms.cern.ch,oasis.opensciencegrid.org');
        req.cvmfs = [...new Set([...(req.cvmfs ?? []), ...repos])];
        break;
      }
      case 'container':
        if (value !== 'any' && value !== 'apptainer' && value !== 'singularity' && value !== 'bwrap') throw bad(item, 'container=any, container=apptainer, container=singularity or container=bwrap');
        req.container = value as ContainerRequirement;
        break;
    }
  }
  return req;
}

/** The requirements as `--require` items again (for logs and the XML detail). */
export function describeRequirements(req: Requirements): string[] {
  const out: string[] = [];
  if (req.cores !== undefined) out.push(`cores=${req.cores}`);
  if (req.memory !== undefined) out.push(`memory=${req.memory}B`);
  if (req.disk !== undefined) out.push(`disk=${req.disk}B`);
  if (req.gpus !== undefined) out.push(`gpus=${req.gpus}`);
  if (req.gpuMemory !== undefined) out.push(`gpu_memory=${req.gpuMemory}B`);
  if (req.cuda !== undefined) out.push(`cuda=${req.cuda}`);
  if (req.cvmfs !== undefined) out.push(`cvmfs=${req.cvmfs.join(',')}`);
  if (req.container !== undefined) out.push(`container=${req.container}`);
  return out;
}
