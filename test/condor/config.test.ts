// The private HTCondor config (issue 14, item 2): golden files for a passed and a failed
// validation, and the checks that keep a bundle from reconfiguring HTCondor.
import { renderGpuInventory } from '../../agent/condor/gpu-inventory.ts';
import { siteWms, type GlideinWmsIdentity } from '../../agent/condor/glideinwms-attrs.ts';
import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCondorConfig, renderCondorState, condorDirs, resources, type CondorConfigInput, type ConfigValidation } from '../../agent/condor/config.ts';
import { checkFactoryConfig } from '../../agent/condor/factory-config.ts';
import { parseCondorBundleFields } from '../../agent/condor/bundle-fields.ts';
import { isGlideinError } from '../../shared/errors.ts';

const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'condor', 'golden');
// UPDATE_GOLDEN=1 rewrites the golden files (review the diff before committing).
function golden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

const OK: ConfigValidation = {
  status: 'OK',
  checks: [
    { name: 'cores', status: 'pass', value: 8 },
    { name: 'memory', status: 'pass', value: 16 * 1024 ** 3 },
    { name: 'disk', status: 'pass', value: 100 * 1024 ** 3 },
    { name: 'gpu', status: 'pass', value: 2 },
  ],
  attributes: { GLIDEIN_CPUS: 8, HAS_SINGULARITY: true, HAS_CVMFS_cms_cern_ch: true, DetectedGPUs: 'GPU-0a1b2c3d, GPU-4e5f6a7b', GPUs_DeviceName: 'NVIDIA H200', 'bad name': 1, EVIL: 'x $(SEC_TOKEN_DIRECTORY)' },
};

/** What a GlideinWMS factory and frontend know of this glidein (bundle `glideinwms`, issue 24 section 4). */
export const GWMS: GlideinWmsIdentity = { factory: 'OSG', name: 'gfactory_instance', clientName: 'fe_cms.main', clientGroup: 'main', schedd: 'schedd_glideins2@gfactory.example.org', clusterId: 4711, procId: 3 };

function input(validation: ConfigValidation, extra: Record<string, string | number | boolean> = {}): CondorConfigInput {
  return {
    install: { master: '/opt/condor/sbin/condor_master', bin: '/opt/condor/bin', sbin: '/opt/condor/sbin', releaseDir: '/opt/condor', version: '25.14.0', source: 'flag' },
    dirs: condorDirs('/scratch/glidein_x'),
    glideinId: 'g-123@site',
    entry: 'CMS_T2_Test',
    site: 'T2_Test',
    trustDomain: 'pool.example.org',
    collectors: ['cm1.example.org:9618', 'cm2.example.org:9618'],
    ccb: true,
    tokenDir: '/scratch/glidein_x/cred.d/idtokens',
    wrapperPath: '/scratch/glidein_x/condor/glidein-job-wrapper',
    prepareHookPath: '/scratch/glidein_x/condor/glidein-prepare-job',
    idleTimeoutS: 1200,
    toRetire: 1_800_000_000,
    toDie: 1_800_000_600,
    startTime: 1_799_914_200,
    validation,
    factory: checkFactoryConfig({ GLIDEIN_Country: 'US', START: 'TARGET.RequestCpus <= 4', IsGpuSlot: true, ...extra }),
  };
}

describe('HTCondor config generation', () => {
  it('matches the golden config for a validated node (resources, attributes, IDTOKENS only, wrapper, CCB)', () => {
    const { text, skipped } = renderCondorConfig({ ...input(OK), glideinwms: GWMS, siteWms: siteWms({ SLURM_JOBID: '12345', SLURM_JOB_PARTITION: 'long' }, 'wn042', undefined) });
    golden('condor_config.ok', text);
    expect(skipped.sort()).toEqual(['EVIL', 'bad name']);
  });

  it('matches the golden config for a failed validation: START false and the failure as attributes', () => {
    const failed: ConfigValidation = {
      status: 'ERROR',
      checks: [
        { name: 'cores', status: 'pass', value: 2 },
        { name: 'disk', status: 'fail', value: 1024, detail: 'only 1 KiB free in /scratch', failure: 'WN_Resource' },
      ],
      attributes: { GLIDEIN_CPUS: 2 },
    };
    golden('condor_config.failed', renderCondorConfig(input(failed)).text);
  });

  it('matches the golden state file (retired, refused job and submitter), dropping values that are not job ids', () => {
    golden('state.config', renderCondorState({ retired: true, refusedJobs: ['schedd.example.org#12.0#1800000000', 'bad"id'], refusedUsers: ['alice@example.org', '$(EVIL)'] }));
  });

  it("advertises the bundle's entry parameters as GLIDEIN_<name>, skipping a value HTCondor would expand", () => {
    const { text, skipped } = renderCondorConfig({ ...input(OK), parameters: { VMId: 'vm2', VMType: 'm5.large', ProjectId: '$(SEC_TOKEN_DIRECTORY)' } });
    expect(text).toContain('GLIDEIN_VMId = "vm2"');
    expect(text).toContain('GLIDEIN_VMType = "m5.large"');
    expect(text).toMatch(/STARTD_ATTRS = .*GLIDEIN_VMId/);
    expect(text).not.toContain('GLIDEIN_ProjectId');
    expect(skipped).toContain('GLIDEIN_ProjectId');
  });

  it('never names a pool signing key or a password file', () => {
    const { text } = renderCondorConfig(input(OK));
    expect(text).not.toMatch(/SIGNING_KEY|PASSWORD|passwords\.d|\bPOOL\b/);
  });

  it("leaves the nested GPU property ads out of the slot's attributes, neither written nor reported as unsafe (issue 23)", () => {
    const attributes = { ...OK.attributes, AvailableGPUs: { classad: '{ GPUs_GPU_0a1b2c3d }' }, GPUs_GPU_0a1b2c3d: { classad: '[ Id = "GPU-0a1b2c3d" ]' } };
    const { text, skipped } = renderCondorConfig(input({ ...OK, attributes }));
    expect(text).not.toMatch(/AvailableGPUs|GPUs_GPU_0a1b2c3d|\[object Object\]/);
    expect(skipped).not.toContain('AvailableGPUs');
    // With property ads the startd takes its GPUs from the inventory file, which carries them.
    expect(text).toMatch(/^MACHINE_RESOURCE_INVENTORY_GPUs = \/bin\/cat \/\S+\/gpus\.inventory$/m);
    expect(text).not.toContain('MACHINE_RESOURCE_GPUS =');
    expect(renderGpuInventory(attributes)).toBe('DetectedGPUs = "GPU-0a1b2c3d, GPU-4e5f6a7b"\nGPUs_GPU_0a1b2c3d = [ Id = "GPU-0a1b2c3d" ]\n');
    expect(renderGpuInventory({ DetectedGPUs: 0 })).toBeNull();
    expect(renderGpuInventory({ DetectedGPUs: 'GPU-0a1b2c3d', GPUs_GPU_0a1b2c3d: { classad: '[ Id = "x"; E = $(SEC_TOKEN_DIRECTORY) ]' } })).toBeNull();
  });

  it('takes resources from validation: GPU ids from DetectedGPUs, memory in MiB, disk in KiB', () => {
    expect(resources(OK)).toEqual({ cpus: 8, memoryMiB: 16384, diskKiB: 100 * 1024 * 1024, gpus: ['GPU-0a1b2c3d', 'GPU-4e5f6a7b'] });
    expect(resources({ status: 'OK', checks: [], attributes: { DetectedGPUs: 0 } }).gpus).toEqual([]);
  });
});

describe('the factory extra config (bundle condor_config)', () => {
  const refused: [string, Record<string, string | number | boolean>, RegExp][] = [
    ['an @include smuggled in a value', { GLIDEIN_Note: 'x\n@include : /bin/sh -c evil |' }, /line break/],
    ['a macro that reads another setting', { GLIDEIN_Note: '$(SEC_TOKEN_DIRECTORY)' }, /'\$'/],
    ['a line continuation', { GLIDEIN_Note: 'x \\' }, /backslash/],
    ['a subsystem-prefixed name', { 'STARTD.SEC_DEFAULT_AUTHENTICATION': 'OPTIONAL' }, /plain HTCondor name/],
    ['a security setting', { SEC_DEFAULT_AUTHENTICATION_METHODS: 'CLAIMTOBE' }, /configures HTCondor itself/],
    ['an authorization list', { ALLOW_WRITE: '*' }, /configures HTCondor itself/],
    ['another job wrapper', { USER_JOB_WRAPPER: '/tmp/evil' }, /configures HTCondor itself/],
    ['a daemon program', { STARTD: '/tmp/evil' }, /configures HTCondor itself/],
    ['a hook', { GLIDEIN_HOOK_PREPARE_JOB: '/tmp/evil' }, /configures HTCondor itself/],
    ['a cron job', { STARTD_CRON_JOBLIST: 'evil' }, /configures HTCondor itself/],
    ['a resource override', { NUM_CPUS: 1000 }, /configures HTCondor itself/],
    ['the collector', { COLLECTOR_HOST: 'evil.example.org:9618' }, /configures HTCondor itself/],
    ['an attribute the agent sets', { GLIDEIN_ToDie: 0 }, /configures HTCondor itself/],
    ['a START with a macro', { START: '$(EVIL)' }, /'\$'/],
    ['a START that breaks out of its parentheses', { START: 'True) || (True' }, /START: the expression closes a parenthesis it did not open \(character 5\)/],
    ['a START that leaves one open', { START: '(True' }, /START: the expression leaves 1 parenthesis\(es\) open/],
    ['a START whose parenthesis hides in a comment', { START: '/* ( */ True) || (True /* ) */' }, /START: the expression contains a comment/],
    ['a START with an unterminated literal', { START: 'Owner == "x) || (True' }, /START: the expression has an unterminated string literal/],
  ];
  it.each(refused)('refuses %s (GLIDEIN_ERR_BUNDLE, exit 2)', (_what, extra, message) => {
    let err: unknown;
    try {
      checkFactoryConfig(extra);
    } catch (e) {
      err = e;
    }
    expect(isGlideinError(err) && err.code === 'GLIDEIN_ERR_BUNDLE' && err.exitCode === 2).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it("keeps an ordinary START with '||' inside, and parentheses inside literals, as one operand", () => {
    for (const start of ['TARGET.VO == "cms" || TARGET.VO == "atlas"', '(RequestGpus > 0) || (Owner == "a)b")', "'odd)name' =?= UNDEFINED || True", 'Owner == "q\\")" && True']) {
      expect(checkFactoryConfig({ START: start }).start).toBe(start);
    }
  });

  it('reports every bad setting at once', () => {
    expect(() => checkFactoryConfig({ SEC_X: 'a', ALLOW_READ: 'b' })).toThrow(/SEC_X.*ALLOW_READ/);
  });

  it('writes custom attributes as quoted literals and ANDs the factory START with its own', () => {
    const f = checkFactoryConfig({ GLIDEIN_Country: 'US "east"', Weight: 2, START: 'RequestGpus > 0' });
    expect(f.entries).toEqual([['GLIDEIN_Country', '"US \\"east\\""'], ['Weight', '2']]);
    expect(f.attributes).toEqual(['GLIDEIN_Country', 'Weight']);
    expect(f.start).toBe('RequestGpus > 0');
  });
});

describe('the bundle fields of HTCondor mode', () => {
  it('needs a collector, accepts one or several host:port, and refuses anything else', () => {
    expect(parseCondorBundleFields({ collector: 'cm.example.org:9618' }).collectors).toEqual(['cm.example.org:9618']);
    expect(parseCondorBundleFields({ collector: ['a.example:1', '[::1]:9618', '10.0.0.1:9620'], ccb: true }).ccb).toBe(true);
    for (const bad of [undefined, 'cm.example.org', 'cm:0', 'cm:99999', ['a:1 b:2'], 'a:1\n@include x', [], 7]) {
      expect(() => parseCondorBundleFields({ collector: bad })).toThrow(/collector/);
    }
  });
});
