// The job ad's SingularityImage / ContainerImage as the job spec's container field (issue 22).
import { describe, expect, it } from 'vitest';
import { jobAdContainer } from '../../agent/condor/job-ad-container.ts';
import { parseJobSpec } from '../../agent/sandbox/job-spec.ts';

const OSG = '/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:latest';

describe('the image a job ad asks for', () => {
  it.each([
    ['SingularityImage (GlideinWMS)', `ClusterId = 12\nSingularityImage = "${OSG}"\n`, { container: { image: OSG } }],
    ['ContainerImage (HTCondor)', 'ContainerImage = "/cvmfs/unpacked.cern.ch/images/el9"\n', { container: { image: '/cvmfs/unpacked.cern.ch/images/el9' } }],
    ['SingularityImage before ContainerImage', `ContainerImage = "/b"\nSingularityImage = "/a"\n`, { container: { image: '/a' } }],
    ['neither', 'ClusterId = 12\nProcId = 0\n', { container: null }],
    ['an empty string', 'SingularityImage = ""\n', { container: null }],
  ])('%s', (_what, ad, expected) => {
    expect(jobAdContainer(ad)).toEqual(expected);
  });

  it.each([
    ['a docker:// image', 'ContainerImage = "docker://debian:12"\n', /not an absolute image path/],
    ['an expression', 'SingularityImage = ifThenElse(x, "/a", "/b")\n', /not a string literal/],
  ])('%s is refused with a reason, not run bare', (_what, ad, reason) => {
    const r = jobAdContainer(ad);
    expect('unsupported' in r && r.unsupported).toMatch(reason);
  });

  it('its result is a valid job spec container field (a tag with ":" included)', () => {
    const r = jobAdContainer(`SingularityImage = "${OSG}"`);
    const spec = parseJobSpec({ id: 'j', executable: '/bin/true', container: 'container' in r ? r.container : null });
    expect(spec.container).toEqual({ image: OSG, binds: [] });
  });
});
