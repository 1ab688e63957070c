import { describe, expect, it } from 'vitest';
import { parseRequirements } from '../../agent/validate/requirements.ts';
import { parseSize, formatBytes } from '../../agent/validate/size.ts';
import { GlideinError } from '../../shared/errors.ts';

function usageError(items: string[]): GlideinError {
  try {
    parseRequirements(items);
  } catch (e) {
    if (e instanceof GlideinError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('SIZE', () => {
  it.each([
    ['512MiB', 512 * 2 ** 20],
    ['8GiB', 8 * 2 ** 30],
    ['2GB', 2e9],
    ['1.5 GiB', 1.5 * 2 ** 30],
    ['100kB', 100_000],
    ['3tib', 3 * 2 ** 40],
    ['42B', 42],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['2', '2G', 'GiB', '-1GiB', '1e3MB', '8 GiBs', ''])('%j is not a SIZE', (text) => {
    expect(parseSize(text)).toBeNull();
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(8 * 2 ** 30)).toBe('8 GiB');
    expect(formatBytes(1.5 * 2 ** 20)).toBe('1.5 MiB');
    expect(formatBytes(900)).toBe('900 B');
  });
});

describe('requirements', () => {
  it('parses every contract key', () => {
    expect(parseRequirements(['cores=4', 'memory=8GiB', 'disk=2GB', 'gpus=1', 'gpu_memory=16GiB', 'cuda=12.2', 'cvmfs=cms.cern.ch,oasis.opensciencegrid.org', 'container=apptainer'])).toEqual({
      cores: 4, memory: 8 * 2 ** 30, disk: 2e9, gpus: 1, gpuMemory: 16 * 2 ** 30, cuda: '12.2', cvmfs: ['cms.cern.ch', 'oasis.opensciencegrid.org'], container: 'apptainer',
    });
  });

  it('merges repeated cvmfs requirements', () => {
    expect(parseRequirements(['cvmfs=a.example.org', 'cvmfs=b.example.org,a.example.org']).cvmfs).toEqual(['a.example.org', 'b.example.org']);
  });

  it.each([
    [['colour=blue'], /unknown requirement key 'colour'.*cores=N/],
    [['cores'], /'cores'.*KEY=VALUE/],
    [['cores=four'], /'cores=four'.*integer of at least 1/],
    [['cores=0'], /integer of at least 1/],
    [['gpus=-1'], /'gpus=-1'.*integer of at least 0/],
    [['memory=8'], /'memory=8'.*size with a unit/],
    [['gpu_memory=16'], /'gpu_memory=16'.*size with a unit/],
    [['cuda=12'], /'cuda=12'.*CUDA version X.Y/],
    [['cuda=twelve.two'], /CUDA version X.Y/],
    [['cuda=12.2', 'cuda=12.4'], /'cuda=12.4'.*already required/],
    [['disk=lots'], /'disk=lots'.*512MiB/],
    [['cvmfs=../etc'], /'cvmfs=\.\.\/etc'.*repository names/],
    [['cvmfs='], /repository names/],
    [['container=docker'], /'container=docker'.*any, container=apptainer, container=singularity or container=bwrap/],
    [['cores=2', 'cores=4'], /'cores=4'.*already required/],
  ])('%j is a usage error that names the input and what was expected', (items, message) => {
    const e = usageError(items);
    expect(e.code).toBe('GLIDEIN_ERR_USAGE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(message);
  });
});
