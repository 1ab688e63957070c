import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, GlideinError, UsageError, ConfigError } from '../../shared/errors.ts';
import { ROOT } from '../helpers/paths.ts';

describe('error model', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `(GLIDEIN_ERR_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const);

  it('documents every error code in the README table with its exit code', () => {
    expect(Object.fromEntries(rows)).toEqual(ERROR_CODES);
  });

  it('lists no code twice in the README table', () => {
    expect(new Set(rows.map((r) => r[0])).size).toBe(rows.length);
  });

  it('keeps name, code, exit code and cause on a GlideinError', () => {
    const cause = new Error('root');
    const e = new GlideinError('GLIDEIN_ERR_LAUNCH', 'no', { cause });
    expect(e.name).toBe('GlideinError');
    expect(e.code).toBe('GLIDEIN_ERR_LAUNCH');
    expect(e.exitCode).toBe(3);
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(Error);
  });

  it('maps usage and config errors to exit 2 with their own class names', () => {
    expect(new UsageError('x').exitCode).toBe(2);
    expect(new UsageError('x').name).toBe('UsageError');
    expect(new ConfigError('x').code).toBe('GLIDEIN_ERR_CONFIG');
  });
});
