// docs/formats.md's examples are parsed with glidein's own parsers, so the documented job spec,
// site policy and bundle cannot drift from the code (issue 27 section 2). A `<… JWT>` placeholder
// becomes a real token, as it would be in a real file.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { parseJobSpec } from '../agent/sandbox/job-spec.ts';
import { loadPolicy } from '../agent/sandbox/policy.ts';
import { loadBundle } from '../agent/pilot/bundle.ts';
import { parseCondorBundleFields } from '../agent/condor/bundle-fields.ts';
import { checkFactoryConfig } from '../agent/condor/factory-config.ts';
import { parseRequirements } from '../agent/validate/index.ts';
import { docBlock } from './helpers/doc-blocks.ts';
import { ROOT } from './helpers/paths.ts';
import { parseAuditLine } from '../agent/audit/audit-record.ts';

const dir = mkdtempSync(join(tmpdir(), 'gldocs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXP = 1796653965;
const jwt = (sub: string) => new SignJWT({ scope: 'compute.create' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://cms-auth.web.cern.ch/').setSubject(sub).setExpirationTime(EXP).sign(new Uint8Array(32).fill(1));

/** The block, with every "<… JWT>" string replaced by a token that expires at EXP. */
async function example(name: string): Promise<{ text: string; value: Record<string, unknown> }> {
  let text = docBlock('docs/formats.md', name);
  for (const placeholder of new Set(text.match(/"<[^">]* JWT>"/g) ?? [])) text = text.replaceAll(placeholder, JSON.stringify(await jwt(placeholder)));
  return { text, value: JSON.parse(text) as Record<string, unknown> };
}

describe('docs/formats.md', () => {
  it('the job spec example is a valid job spec, every field set as shown', async () => {
    const { value } = await example('job-spec');
    const spec = parseJobSpec(value, 'docs job spec');
    expect(spec).toMatchObject({ id: 'job-1', executable: '/usr/bin/id', args: ['-u'], env: { A: '1' }, cwd: '/scratch/job-1', stdout: '/scratch/job-1/out', tty: false, limits: { wallclockSeconds: 3600 } });
    expect(spec.credentials).toEqual([expect.objectContaining({ purpose: 'storage', type: 'scitoken', expiresAt: EXP })]);
    expect(Object.keys(value).sort()).toEqual(['args', 'container', 'credentials', 'cwd', 'env', 'executable', 'gpus', 'id', 'identity', 'limits', 'stderr', 'stdin', 'stdout', 'tty']);
    expect(spec.gpus).toBe(1);
    expect(spec.container).toEqual({ image: '/cvmfs/unpacked.cern.ch/images/el9', binds: [{ source: '/data/cms', target: '/data', readOnly: true }] });
  });

  it('the policy example loads with loadPolicy, and an empty policy has the documented defaults', async () => {
    const { text } = await example('policy');
    const file = join(dir, 'policy.json');
    writeFileSync(file, text);
    const policy = await loadPolicy(file);
    expect(policy).toMatchObject({
      identity: 'helper', helper: ['sudo', '-n', '-u', '{user}', '--'], mapfile: '/etc/glidein/mapfile',
      issuers: { 'https://cms-auth.web.cern.ch/': { jwksFile: '/etc/glidein/cms-jwks.json' } },
      audience: ['https://ce01.site.example:9619'], requiredScope: ['compute.create'], allowPilotIdentity: false,
      credentialGraceSeconds: 300, killGraceSeconds: 30, helperConcurrency: 4, helperTimeoutSeconds: 30, launchAttempts: 3, condorTokenFile: 'scitokens.use',
      containers: { runtime: 'auto', allowedImageRoots: ['/cvmfs/unpacked.cern.ch/'], binds: [{ source: '/cvmfs', target: '/cvmfs', readOnly: true }], forbiddenBinds: ['/etc/glidein'] },
      audit: { syslog: '/dev/log', file: '/var/log/glidein/audit.log', required: false },
    });
    // The defaults the table states.
    writeFileSync(join(dir, 'empty.json'), '{}');
    expect(await loadPolicy(join(dir, 'empty.json'))).toMatchObject({
      identity: 'none', helper: ['sudo', '-n', '-u', '{user}', '--'], credentialGraceSeconds: 300, killGraceSeconds: 20, helperConcurrency: 4, helperTimeoutSeconds: 30, launchAttempts: 3, allowPilotIdentity: false, condorTokenFile: null, strictMapfile: false,
    });
  });

  it('the audit record example is a record glidein audit reads, and the table names each of its fields', async () => {
    const { text } = await example('audit-record');
    const record = parseAuditLine(`glidein-audit: ${JSON.stringify(JSON.parse(text))}`);
    expect(record).toMatchObject({ v: 1, event: 'end', job: 'job-1', sub: '07f75a9a-bb78-4735', account: 'cmsprod', why: 'completed' });
    const doc = readFileSync(join(ROOT, 'docs', 'formats.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## Site audit record'));
    for (const field of Object.keys(record!)) expect(table, field).toContain(`\`${field}\``);
  });

  it('the bundle example loads with loadBundle (0600) and carries valid HTCondor fields', async () => {
    const { text, value } = await example('bundle');
    const file = join(dir, 'bundle.json');
    writeFileSync(file, text, { mode: 0o600 });
    const bundle = loadBundle(file, EXP - 3600);
    expect(bundle).toMatchObject({ glideinId: 'g-0001', entry: 'CE_Site_A', refreshUrls: ['https://rs.example.org:8443'], trustDomain: 'pool.example.org', expiresAt: 1797255165, parameters: { ProjectId: 'cms-prod' }, container: { mode: 'preferred', defaultImage: '/cvmfs/singularity.opensciencegrid.org/opensciencegrid/osgvo-el9:latest' } });
    expect(bundle.credentials.map((c) => `${c.type}/${c.purpose}`)).toEqual(['idtoken/collector', 'scitoken/vo-service']);
    parseRequirements(bundle.requirements);
    const condor = parseCondorBundleFields(value, 'docs bundle');
    expect(condor).toMatchObject({ collectors: ['cm.example.org:9618'], ccb: false, site: 'T2_XX_Site', glideinwms: { factory: 'OSG', name: 'gfactory_instance', clientName: 'fe_cms.main', clusterId: 4711 } });
    checkFactoryConfig(condor.condorConfig, 'docs bundle');
  });
});
