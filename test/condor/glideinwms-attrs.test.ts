// The startd attributes GlideinWMS frontends and factories count (issue 24 section 4): the
// rendered config's advertised attributes make an ad, and GlideinWMS 3.11.3's own constraint
// strings (copied as data from frontend/glideinFrontendLib.py and factory/glideFactoryLib.py,
// the only text taken from them) are evaluated on it with a small evaluator of our own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCondorConfig, condorDirs, type CondorConfigInput } from '../../agent/condor/config.ts';
import { checkFactoryConfig } from '../../agent/condor/factory-config.ts';
import { parseCondorBundleFields } from '../../agent/condor/bundle-fields.ts';
import { parseGlideinWmsIdentity, readJobAd, siteWms, type GlideinWmsIdentity } from '../../agent/condor/glideinwms-attrs.ts';
import { registerPilot } from '../../refresh-service/index.ts';
import { makeSandbox, type Sandbox } from '../refresh-service/fixture.ts';

type Value = string | number | boolean;

/** The ad the startd advertises: STARTD_ATTRS' names with their config values ($(MASTER_NAME) and $(FULL_HOSTNAME) expanded). */
function startdAd(text: string, macros: Record<string, string>): Record<string, Value> {
  const lines = new Map<string, string>();
  for (const l of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*) = (.*)$/.exec(l);
    if (m) lines.set(m[1]!, m[2]!);
  }
  const ad: Record<string, Value> = {};
  for (const name of (lines.get('STARTD_ATTRS') ?? '').split(/,\s*/)) {
    const raw = lines.get(name);
    if (raw === undefined) continue;
    const v = raw.replace(/\$\((\w+)\)/g, (_, m: string) => macros[m] ?? '');
    ad[name] = /^".*"$/.test(v) ? v.slice(1, -1) : v === 'True' ? true : v === 'False' ? false : /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return ad;
}

/** ClassAd meta-comparisons joined by &&, as GlideinWMS writes its constraints: `A =?= "x"`, `A=!=UNDEFINED`, `(True)`. */
function evaluate(constraint: string, ad: Record<string, Value>): boolean {
  return constraint.split('&&').every((term) => {
    const t = term.trim().replace(/^\(+|\)+$/g, '').trim();
    if (t === 'True') return true;
    const m = /^(\w+)\s*(=\?=|=!=)\s*(.+)$/.exec(t);
    if (!m) throw new Error(`cannot evaluate ${JSON.stringify(t)}`);
    const [, attr, op, lit] = m as unknown as [string, string, string, string];
    const right: Value | undefined = lit === 'UNDEFINED' ? undefined : lit === 'True' ? true : lit === 'False' ? false : /^".*"$/.test(lit) ? lit.slice(1, -1) : Number(lit);
    const same = ad[attr] === right;
    return op === '=?=' ? same : !same;
  });
}

// frontend/glideinFrontendLib.py getCondorStatus(want_glideins_only=True)
const FRONTEND_GLIDEINS = '(True)&&(IS_MONITOR_VM=!=True)&&(GLIDEIN_Factory=!=UNDEFINED)&&(GLIDEIN_Name=!=UNDEFINED)&&(GLIDEIN_Entry_Name=!=UNDEFINED)';
// factory/glideFactoryLib.py getCondorStatusData's status_glidein_constraint
const factoryConstraint = (factory: string, glidein: string, entry: string, client: string) =>
  `(GLIDEIN_Factory =?= "${factory}") && (GLIDEIN_Name =?= "${glidein}") && (GLIDEIN_Entry_Name =?= "${entry}") && (GLIDEIN_Client =?= "${client}")`;

const GWMS: GlideinWmsIdentity = { factory: 'OSG', name: 'gfactory_instance', clientName: 'fe_cms.main', clientGroup: 'main', schedd: 'schedd_glideins2@gfactory.example.org', clusterId: 4711, procId: 3 };
const MACROS = { MASTER_NAME: 'glidein_g-1', FULL_HOSTNAME: 'wn042.example.org' };

function input(glideinwms: GlideinWmsIdentity | undefined): CondorConfigInput {
  return {
    install: { master: '/opt/condor/sbin/condor_master', bin: '/opt/condor/bin', sbin: '/opt/condor/sbin', releaseDir: '/opt/condor', version: '25.14.0', source: 'flag' },
    dirs: condorDirs('/scratch/glidein_x'),
    glideinId: 'g-1',
    entry: 'CMS_T2_Test',
    site: 'T2_Test',
    trustDomain: 'pool.example.org',
    collectors: ['cm1.example.org:9618'],
    ccb: false,
    tokenDir: '/scratch/glidein_x/cred.d/idtokens',
    wrapperPath: '/scratch/glidein_x/condor/w',
    prepareHookPath: '/scratch/glidein_x/condor/h',
    idleTimeoutS: 1200,
    toRetire: 1_800_000_000,
    toDie: 1_800_000_600,
    startTime: 1_799_914_200,
    validation: { status: 'OK', checks: [{ name: 'cores', status: 'pass', value: 8 }], attributes: { GLIDEIN_CPUS: 8 } },
    factory: checkFactoryConfig({}),
    ...(glideinwms ? { glideinwms } : {}),
    siteWms: siteWms({ SLURM_JOBID: '12345', SLURM_JOB_PARTITION: 'long' }, 'wn042', undefined),
  };
}

describe('the startd ad answers GlideinWMS\'s queries', () => {
  const ad = startdAd(renderCondorConfig(input(GWMS)).text, MACROS);

  it.each([
    ['the frontend\'s "glideins only" constraint', FRONTEND_GLIDEINS, true],
    ['the factory\'s own slots (factory, glidein group, entry, client)', factoryConstraint('OSG', 'gfactory_instance', 'CMS_T2_Test', 'fe_cms.main'), true],
    ['another factory\'s query', factoryConstraint('UCSD', 'gfactory_instance', 'CMS_T2_Test', 'fe_cms.main'), false],
    ['another glidein group', factoryConstraint('OSG', 'g-1', 'CMS_T2_Test', 'fe_cms.main'), false],
    ['another client', factoryConstraint('OSG', 'gfactory_instance', 'CMS_T2_Test', 'fe_atlas.main'), false],
    ['the frontend\'s own glideins (GLIDECLIENT_Name)', '(GLIDECLIENT_Name =?= "fe_cms.main") && (GLIDECLIENT_Group =?= "main")', true],
  ])('%s: %s is %s', (_what, constraint, expected) => {
    expect(evaluate(constraint, ad)).toBe(expected);
  });

  it('carries GlideinWMS\'s names with their types and meanings', () => {
    expect(ad).toMatchObject({
      GLIDEIN_Factory: 'OSG', GLIDEIN_Name: 'gfactory_instance', GLIDEIN_Entry_Name: 'CMS_T2_Test', GLIDEIN_Site: 'T2_Test', GLIDEIN_ResourceName: 'T2_Test',
      GLIDECLIENT_Name: 'fe_cms.main', GLIDEIN_Client: 'fe_cms.main', GLIDECLIENT_Group: 'main',
      GLIDEIN_Schedd: 'schedd_glideins2@gfactory.example.org', GLIDEIN_ClusterId: 4711, GLIDEIN_ProcId: 3,
      IS_GLIDEIN: true, GLIDEIN_MASTER_NAME: 'glidein_g-1@wn042.example.org',
      GLIDEIN_ToRetire: 1_800_000_000, GLIDEIN_ToDie: 1_800_000_600, GLIDEIN_Expire: 1_800_000_600, DaemonStopTime: 1_800_000_600,
      GLIDEIN_Max_Walltime: 86_400, GLIDEIN_REQUIRED_OS: 'any',
      GLIDEIN_SiteWMS: 'SLURM', GLIDEIN_SiteWMS_JobId: '12345', GLIDEIN_SiteWMS_Queue: 'long', GLIDEIN_SiteWMS_Slot: 'Unknown',
      GLIDEIN_Pilot_Id: 'g-1', GLIDEIN_CPUS: 8,
    });
    // The factory's job match reads (GLIDEIN_ClusterId, GLIDEIN_ProcId) as integers; the frontend counts glideins by the slot name after its first '@'.
    expect(`slot1@${MACROS.MASTER_NAME}@${MACROS.FULL_HOSTNAME}`.split('@').slice(1).join('@')).toBe(ad['GLIDEIN_MASTER_NAME']);
  });

  it('without GlideinWMS names a frontend does not count the slot as a glidein, and GLIDEIN_Name is never the pilot id', () => {
    const bare = startdAd(renderCondorConfig(input(undefined)).text, MACROS);
    expect(evaluate(FRONTEND_GLIDEINS, bare)).toBe(false);
    expect(bare['GLIDEIN_Name']).toBeUndefined();
    expect(bare['GLIDEIN_Pilot_Id']).toBe('g-1');
  });
});

describe('GLIDEIN_SiteWMS* from the batch system, as glidein_sitewms_setup.sh finds them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sitewms-'));
  const jobAd = join(dir, '.job.ad');
  writeFileSync(jobAd, 'ClusterId = 812\nProcId = 4\nGlobalJobId = "ce01.example.org#812.4#1800000000"\n');
  it.each([
    ['HTCondor', { _CONDOR_JOB_AD: jobAd, _CONDOR_SLOT: 'slot1_3', SLURM_JOBID: '9' }, ['HTCondor', '812.4', 'ce01.example.org', 'slot1_3@wn042']],
    ['HTCondor without _CONDOR_SLOT', { _CONDOR_JOB_AD: jobAd }, ['HTCondor', '812.4', 'ce01.example.org', 'slot1@wn042']],
    ['SGE', { JOB_ID: '77', QUEUE: 'all.q' }, ['SGE', '77', 'all.q', 'Unknown']],
    ['PBS', { PBS_JOBID: '123.pbs', PBS_QUEUE: 'batch' }, ['PBS', '123.pbs', 'batch', 'Unknown']],
    ['LSF', { LSB_JOBID: '5', LSB_QUEUE: 'normal' }, ['LSF', '5', 'normal', 'Unknown']],
    ['Slurm', { SLURM_JOBID: '12345', SLURM_JOB_PARTITION: 'long' }, ['SLURM', '12345', 'long', 'Unknown']],
    ['Slurm, newer variable only', { SLURM_JOB_ID: '12' }, ['SLURM', '12', 'Unknown', 'Unknown']],
    ['none', {}, ['Unknown', 'Unknown', 'Unknown', 'Unknown']],
    ['PBS before Slurm', { PBS_JOBID: '1', SLURM_JOBID: '2' }, ['PBS', '1', 'Unknown', 'Unknown']],
    ['a value unsafe in a config', { SLURM_JOBID: '1$(EVIL)' }, ['SLURM', 'Unknown', 'Unknown', 'Unknown']],
  ])('%s', (_what, env, expected) => {
    const s = siteWms(env, 'wn042', readJobAd(env));
    expect([s.GLIDEIN_SiteWMS, s.GLIDEIN_SiteWMS_JobId, s.GLIDEIN_SiteWMS_Queue, s.GLIDEIN_SiteWMS_Slot]).toEqual(expected);
  });
});

describe('the bundle field glideinwms', () => {
  it.each([
    [{ factory: 'OSG', name: 'g', client_name: 'fe.main', cluster_id: 0, proc_id: 7 }, { factory: 'OSG', name: 'g', clientName: 'fe.main', clusterId: 0, procId: 7 }],
    [undefined, {}],
  ])('%j is read', (value, expected) => {
    expect(parseGlideinWmsIdentity(value, 'bundle')).toEqual(expected);
  });

  it.each([
    [[], 'glideinwms: expected an object'],
    [{ factory: 'a b' }, 'glideinwms.factory: expected letters'],
    [{ cluster_id: -1 }, 'glideinwms.cluster_id: expected a non-negative integer'],
    [{ GLIDEIN_Name: 'x' }, 'glideinwms.GLIDEIN_Name: expected one of'],
  ])('%j is refused naming the key', (value, message) => {
    expect(() => parseCondorBundleFields({ collector: 'cm:9618', glideinwms: value }, 'bundle b.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_BUNDLE', message: expect.stringContaining(message) }));
  });
});

describe('register puts the entry\'s and the submission\'s names into the bundle', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await makeSandbox();
  });
  afterAll(async () => {
    await sb?.cleanup();
  });

  it('from the config\'s glideinwms key and the --client-*/--schedd/--cluster-id/--proc-id values', async () => {
    const config = sb.config({ glideinwms: { factory: 'OSG', name: 'gfactory_instance' }, entries: { E1: { glideinwms: { factory: 'OSG', name: 'gfactory_instance', resourceName: 'T2_Res' } } } });
    const b = await registerPilot({ stateDir: sb.stateDir, config, glideinId: 'g-reg-1', entry: 'E1', url: 'https://rs.example.org', glideinwms: { client_name: 'fe_cms.main', client_group: 'main', schedd: 's@f', cluster_id: 12, proc_id: 0 } });
    expect((b as unknown as Record<string, unknown>)['glideinwms']).toEqual({ factory: 'OSG', name: 'gfactory_instance', resource_name: 'T2_Res', client_name: 'fe_cms.main', client_group: 'main', schedd: 's@f', cluster_id: 12, proc_id: 0 });
    expect(parseCondorBundleFields({ ...b, collector: 'cm:9618' } as unknown as Record<string, unknown>).glideinwms).toMatchObject({ factory: 'OSG', clientName: 'fe_cms.main', clusterId: 12 });
  });

  it.each([
    [{ client_name: 'fe cms' }, "--client-name 'fe cms' is not valid"],
  ])('refuses %j naming the flag', async (glideinwms, message) => {
    await expect(registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: 'g-reg-2', entry: 'E1', url: 'https://rs.example.org', glideinwms })).rejects.toThrow(message);
  });

  it('refuses a config glideinwms key the agent would refuse, naming it', () => {
    expect(() => sb.config({ entries: { E1: { glideinwms: { factory: 'a b' } } } })).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining('entries.E1.glideinwms') }));
    expect(() => sb.config({ glideinwms: { client: 'x' } })).toThrow(/unknown key 'glideinwms.client'/);
  });
});
