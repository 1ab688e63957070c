// System tools some tests need (sudo, scitokens-verify, Slurm, PostgreSQL, Chromium, …).
// On a fresh developer machine a missing tool skips its tests and prints why and how to get it.
// CI (.ci/run) installs every tool and sets GLIDEIN_TEST_REQUIRE_TOOLS=1, which turns such a
// skip into a failure, so CI always runs them.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const REQUIRE_TOOLS_ENV = 'GLIDEIN_TEST_REQUIRE_TOOLS';

/** True when GLIDEIN_TEST_REQUIRE_TOOLS asks for every system tool (CI). */
export function toolsRequired(): boolean {
  const v = process.env[REQUIRE_TOOLS_ENV];
  return v !== undefined && v !== '' && v !== '0';
}

/** The absolute path of an executable found on PATH (or given absolute), else undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = name.includes('/') ? [''] : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', ...extraDirs];
  for (const dir of dirs) {
    const p = dir === '' ? name : join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

const reported = new Set<string>();

/**
 * Decide whether tests needing a system facility must skip. `available` says whether it is
 * there; `what` names it; `how` says how to get it. Returns true to skip (and prints the reason
 * once per facility); throws when GLIDEIN_TEST_REQUIRE_TOOLS is set, so CI fails instead.
 */
export function skipWithout(what: string, available: boolean, how: string): boolean {
  if (available) return false;
  const message = `${what} is not available: ${how}`;
  if (toolsRequired()) {
    throw new Error(`${message} (${REQUIRE_TOOLS_ENV} is set, so this test may not skip)`);
  }
  if (!reported.has(what)) {
    reported.add(what);
    console.warn(`[skip] ${message}; set ${REQUIRE_TOOLS_ENV}=1 to make this a failure`);
  }
  return true;
}

/** skipWithout for one executable on PATH. */
export function skipWithoutTool(name: string, how: string): boolean {
  return skipWithout(`'${name}'`, findExecutable(name) !== undefined, how);
}
