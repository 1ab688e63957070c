// Fixture hosts for validation tests: a fixture /proc, /sys and /etc tree from
// test/fixtures/validate, an environment, and a CollectContext for one validator.
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.ts';
import { resolveHost, type Host, type HostOptions } from '../../agent/validate/host.ts';
import type { CollectContext } from '../../agent/validate/validator.ts';
import type { Requirements } from '../../agent/validate/types.ts';

export const FIXTURES = join(ROOT, 'test', 'fixtures', 'validate');

export function fixtureHost(tree: string, env: NodeJS.ProcessEnv = {}, extra: HostOptions = {}): Host {
  const base = join(FIXTURES, tree);
  return resolveHost({ procRoot: join(base, 'proc'), sysRoot: join(base, 'sys'), etcRoot: join(base, 'etc'), cvmfsRoot: join(base, 'cvmfs'), env: { PATH: '/usr/bin:/bin', ...env }, ...extra });
}

export function collectContext(host: Host, overrides: Partial<CollectContext> = {}): CollectContext {
  return {
    host,
    requirements: {} as Requirements,
    workdir: process.cwd(),
    identityAccounts: [],
    signal: new AbortController().signal,
    probeTimeoutMs: 5000,
    ...overrides,
  };
}
