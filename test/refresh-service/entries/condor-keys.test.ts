// The HTCondor keys of the service config (issue 14): collector, condorConfig, ccb and site, at
// the top level and per entry, are checked at load with the agent's own rules (a bad one is exit
// 2 naming the key) and copied by `register` into the bundle, where the agent's --condor parser
// reads them back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GlideinError } from '../../../shared/errors.ts';
import { parseBundle } from '../../../shared/protocol.ts';
import { parseCondorBundleFields } from '../../../agent/condor/bundle-fields.ts';
import { checkFactoryConfig } from '../../../agent/condor/factory-config.ts';
import { parseServiceConfig } from '../../../refresh-service/config.ts';
import { registerPilot } from '../../../refresh-service/register.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { makeSandbox, type Sandbox } from '../fixture.ts';

let sb: Sandbox;
beforeAll(async () => {
  sb = await makeSandbox();
});
afterAll(async () => {
  await sb?.cleanup();
});

const base = () => ({ trustDomain: 'pool.example.org', poolSigningKeyFile: sb.poolKeyFile, publicUrl: 'http://127.0.0.1:9' });

function refusal(extra: Record<string, unknown>): GlideinError {
  try {
    parseServiceConfig({ ...base(), ...extra }, 'f.json');
  } catch (e) {
    if (e instanceof GlideinError) return e;
    throw e;
  }
  throw new Error('the config was accepted');
}

describe('HTCondor keys in the service config', { timeout: 30_000 }, () => {
  it.each([
    ['a collector that is not host:port', { collector: 'collector.example.org' }, 'f.json: collector: ', 'is not host:port'],
    ['a collector port out of range', { collector: ['c.example.org:9618', 'c.example.org:70000'] }, 'f.json: collector[1]: ', 'port 1-65535'],
    ['more than 16 collectors', { collector: Array.from({ length: 17 }, (_, i) => `c${i}.example.org:9618`) }, 'f.json: collector: ', '1 to 16'],
    ['a setting that configures security', { condorConfig: { SEC_DEFAULT_AUTHENTICATION: 'NEVER' } }, 'f.json: condorConfig: ', 'SEC_DEFAULT_AUTHENTICATION configures HTCondor itself'],
    ['a job wrapper of its own', { condorConfig: { USER_JOB_WRAPPER: '/tmp/x' } }, 'f.json: condorConfig: ', 'USER_JOB_WRAPPER configures HTCondor itself'],
    ['a value HTCondor would expand', { condorConfig: { VO_Tag: 'a$(CONDOR_HOST)' } }, 'f.json: condorConfig: ', "contains '$'"],
    ['a START that breaks out of the agent\'s conditions', { condorConfig: { START: 'True) || (True' } }, 'f.json: condorConfig: ', 'START: the expression closes a parenthesis it did not open'],
    ['a value with a line break (a second directive)', { condorConfig: { VO_Tag: 'x\n@include /etc/passwd' } }, 'f.json: condorConfig: ', 'line break'],
    ['a name with a subsystem prefix', { condorConfig: { 'STARTD.Foo': 'x' } }, 'f.json: condorConfig: ', 'not a plain HTCondor name'],
    ['a value that is a list', { condorConfig: { VO_Tag: ['x'] } }, 'f.json: condorConfig.VO_Tag: ', 'expected a string, a finite number or a boolean'],
    ['condorConfig that is not an object', { condorConfig: 'START = True' }, 'f.json: condorConfig: ', 'expected an object'],
    ['ccb that is not a boolean', { ccb: 'yes' }, 'f.json: ccb: ', 'true or false'],
    ['a site name with a space', { site: 'My Site' }, 'f.json: site: ', 'letters, digits'],
    ['an entry collector that is not host:port', { entries: { CE_A: { collector: ['collector.example'] } } }, 'f.json: entries.CE_A.collector[0]: ', 'is not host:port'],
    ['an entry condorConfig naming a daemon', { entries: { CE_A: { condorConfig: { STARTD_DEBUG: 'D_ALL' } } } }, 'f.json: entries.CE_A.condorConfig: ', 'STARTD_DEBUG configures HTCondor itself'],
    ['an entry ccb that is not a boolean', { entries: { CE_A: { ccb: 1 } } }, 'f.json: entries.CE_A.ccb: ', 'true or false'],
    ['a container mode GlideinWMS does not have', { container: { mode: 'always' } }, 'f.json: container', 'must be one of never, optional, preferred, required'],
    ['a container default image that is a docker:// URL', { container: { mode: 'required', defaultImage: 'docker://busybox' } }, 'f.json: container', 'must be an absolute path'],
    ['an entry container key the bundle does not have', { entries: { CE_A: { container: { mode: 'preferred', image: '/cvmfs/x' } } } }, 'f.json: entries.CE_A.container', 'is not a container field'],
  ])('refuses %s, naming the key', (_what, extra, key, reason) => {
    const e = refusal(extra);
    expect(e.code).toBe('GLIDEIN_ERR_CONFIG');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(key);
    expect(e.message).toContain(reason);
  });

  it('exits 2 from register naming the key, and prints no bundle', async () => {
    const file = join(sb.dir, 'bad-condor.json');
    await writeFile(file, JSON.stringify({ ...base(), condorConfig: { ALLOW_WRITE: '*' } }));
    const r = await runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', file, '--glidein-id', 'bad-1', '--entry', 'CE'], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('condorConfig: ALLOW_WRITE configures HTCondor itself');
    expect(r.stdout).toBe('');
  });

  it('copies the top-level keys into the bundle, where the agent reads them back', async () => {
    const config = parseServiceConfig({ ...base(), collector: 'cm.vo.example.org:9618', condorConfig: { START: 'TARGET.VO == "cms"', VO_Tag: 'gpu', VO_Rank: 3, VO_Test: true }, ccb: true, site: 'T2_Example' }, 'f.json');
    const wire = await registerPilot({ stateDir: sb.stateDir, config, glideinId: 'condor-1', entry: 'CE_TOP' });
    expect(wire).toMatchObject({ collector: ['cm.vo.example.org:9618'], condor_config: { VO_Tag: 'gpu', VO_Rank: 3, VO_Test: true }, ccb: true, site: 'T2_Example' });
    const raw = JSON.parse(JSON.stringify(wire)) as Record<string, unknown>;
    parseBundle(raw);
    const fields = parseCondorBundleFields(raw);
    expect(fields).toEqual({ collectors: ['cm.vo.example.org:9618'], ccb: true, site: 'T2_Example', condorConfig: { START: 'TARGET.VO == "cms"', VO_Tag: 'gpu', VO_Rank: 3, VO_Test: true }, glideinwms: {} });
    const factory = checkFactoryConfig(fields.condorConfig);
    expect(factory.start).toBe('TARGET.VO == "cms"');
    expect(factory.attributes.sort()).toEqual(['VO_Rank', 'VO_Tag', 'VO_Test']);
  });

  it('lets an entry inherit the top-level keys it leaves out and replace those it sets', async () => {
    const config = parseServiceConfig(
      {
        ...base(),
        collector: ['cm1.vo.example.org:9618', 'cm2.vo.example.org:9618'],
        condorConfig: { VO_Tag: 'default' },
        entries: { CE_INHERIT: {}, CE_OWN: { collector: '[2001:db8::1]:9618', condorConfig: { VO_Tag: 'own' }, ccb: true, site: 'T3_Own' } },
      },
      'f.json',
    );
    const inherit = await registerPilot({ stateDir: sb.stateDir, config, glideinId: 'condor-2', entry: 'CE_INHERIT' });
    const own = await registerPilot({ stateDir: sb.stateDir, config, glideinId: 'condor-3', entry: 'CE_OWN' });
    expect(parseCondorBundleFields(inherit as unknown as Record<string, unknown>)).toEqual({ collectors: ['cm1.vo.example.org:9618', 'cm2.vo.example.org:9618'], ccb: false, site: null, condorConfig: { VO_Tag: 'default' }, glideinwms: {} });
    expect(parseCondorBundleFields(own as unknown as Record<string, unknown>)).toEqual({ collectors: ['[2001:db8::1]:9618'], ccb: true, site: 'T3_Own', condorConfig: { VO_Tag: 'own' }, glideinwms: {} });
  });

  it('copies the container key (top level, replaced per entry) into the bundle, where the agent reads it back (issue 22)', async () => {
    const config = parseServiceConfig(
      {
        ...base(),
        container: { mode: 'preferred', defaultImage: '/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:latest' },
        entries: { CE_INHERIT: {}, CE_REQUIRED: { container: { mode: 'required', defaultImage: '/cvmfs/unpacked.cern.ch/images/el9' } }, CE_NEVER: { container: { mode: 'never' } }, CE_UNSET: { container: null } },
      },
      'f.json',
    );
    const bundleOf = async (entry: string, id: string) => parseBundle(JSON.parse(JSON.stringify(await registerPilot({ stateDir: sb.stateDir, config, glideinId: id, entry }))) as Record<string, unknown>);
    expect((await bundleOf('CE_INHERIT', 'cont-1')).container).toEqual({ mode: 'preferred', defaultImage: '/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:latest' });
    expect((await bundleOf('CE_REQUIRED', 'cont-2')).container).toEqual({ mode: 'required', defaultImage: '/cvmfs/unpacked.cern.ch/images/el9' });
    expect((await bundleOf('CE_NEVER', 'cont-3')).container).toEqual({ mode: 'never', defaultImage: null });
    // null: the entry drops the top-level setting; the agent's default (optional, no image).
    expect((await bundleOf('CE_UNSET', 'cont-4')).container).toEqual({ mode: 'optional', defaultImage: null });
  });

  it('exits 2 from register on a bad container key, naming it, and prints no bundle', async () => {
    const file = join(sb.dir, 'bad-container.json');
    await writeFile(file, JSON.stringify({ ...base(), entries: { CE: { container: { mode: 'required', defaultImage: 'relative/el9' } } } }));
    const r = await runCli(['refresh-service', 'register', '--state', sb.stateDir, '--config', file, '--glidein-id', 'bad-2', '--entry', 'CE'], { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('entries.CE.container');
    expect(r.stderr).toContain('defaultImage');
    expect(r.stdout).toBe('');
  });

  it('leaves the bundle without HTCondor fields when no key is set', async () => {
    const wire = await registerPilot({ stateDir: sb.stateDir, config: parseServiceConfig(base(), 'f.json'), glideinId: 'condor-4', entry: 'CE_PLAIN' });
    for (const field of ['collector', 'condor_config', 'ccb', 'site', 'container']) expect(wire).not.toHaveProperty(field);
  });
});
