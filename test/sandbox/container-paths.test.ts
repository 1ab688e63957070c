// The job's work dir is /srv in its container (issue 22): host paths under it, in the command and
// the environment, are rewritten; anything else is left alone.
import { describe, expect, it } from 'vitest';
import { insidePath, insideValue, toInside } from '../../agent/sandbox/container-paths.ts';

const W = '/var/lib/condor/execute/dir_7/scratch';

describe('container paths', () => {
  it.each([
    [W, '/srv'],
    [`${W}/job.sh`, '/srv/job.sh'],
    [`${W}/sub/dir/x`, '/srv/sub/dir/x'],
    [`${W}-other/job.sh`, `${W}-other/job.sh`],
    ['/var/lib/condor/execute/dir_7', '/var/lib/condor/execute/dir_7'],
    ['job.sh', 'job.sh'],
    ['--input', '--input'],
    ['/bin/sh', '/bin/sh'],
  ])('%s -> %s', (host, inside) => {
    expect(insidePath(W, host)).toBe(inside);
    expect(insidePath(`${W}/`, host)).toBe(inside);
  });

  it('rewrites each element of a list value, and leaves URLs and other paths', () => {
    expect(insideValue(W, `${W}/bin:/usr/bin:${W}`)).toBe('/srv/bin:/usr/bin:/srv');
    expect(insideValue(W, 'https://example.org/x')).toBe('https://example.org/x');
  });

  it('maps the executable, every argument and every environment value', () => {
    expect(toInside(W, { executable: `${W}/job.sh`, argv: [`${W}/job.sh`, `${W}/in.txt`, '-v'], env: { _CONDOR_SCRATCH_DIR: W, _CONDOR_JOB_AD: `${W}/.job.ad`, FOO: 'bar' } })).toEqual({
      executable: '/srv/job.sh',
      argv: ['/srv/job.sh', '/srv/in.txt', '-v'],
      env: { _CONDOR_SCRATCH_DIR: '/srv', _CONDOR_JOB_AD: '/srv/.job.ad', FOO: 'bar' },
    });
  });
});
