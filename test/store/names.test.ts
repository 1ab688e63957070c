import { describe, expect, it } from 'vitest';
import { checkName } from '../../agent/store/index.ts';
import { GlideinError } from '../../shared/errors.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof GlideinError ? e.code : `not a GlideinError: ${String(e)}`;
  }
  return undefined;
}

describe('checkName', () => {
  it.each([
    ['empty', ''],
    ['dot-dot', '..'],
    ['dot', '.'],
    ['traversal prefix', '../etc/passwd'],
    ['traversal in the middle', 'a/../../b'],
    ['absolute path', '/etc/shadow'],
    ['slash', 'a/b'],
    ['NUL byte', 'tok\u0000en'],
    ['newline', 'tok\nen'],
    ['hidden file', '.bashrc'],
    ['temp-file look-alike', '.refresh.tmp-1-abc'],
    ['129 characters', 'a'.repeat(129)],
  ])('rejects a %s name with GLIDEIN_ERR_STORE_NAME for credentials and jobs', (_label, name) => {
    expect(codeOf(() => checkName('credential', name))).toBe('GLIDEIN_ERR_STORE_NAME');
    expect(codeOf(() => checkName('job', name))).toBe('GLIDEIN_ERR_STORE_NAME');
  });

  it.each([['refresh-token'], ['dpop.key'], ['job_42'], ['a'.repeat(128)], ['scitoken..vo'], ['x~'], ['ünïcode']])(
    'accepts the safe name %s and returns it unchanged',
    (name) => {
      expect(checkName('credential', name)).toBe(name);
      expect(checkName('job', name)).toBe(name);
    },
  );

  it('names the kind and the problem in the message', () => {
    expect(() => checkName('job', '../x')).toThrow(/job name "\.\.\/x" contains '\/'/);
  });
});
