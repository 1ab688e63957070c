// glidein validate as a GlideinWMS custom script (issue 24 section 1). The rules below are what
// GlideinWMS 3.11.3's own scripts were seen to do when run on glidein's output (error_augment.sh
// -process, glidein_startup.sh's extract_parent_xml_detail, add_config_line.source,
// condor_startup.sh's set_var), written down as our own table: no GlideinWMS code is used here.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatXml } from '../../agent/validate/index.ts';
import { condorSafeValue, condorVarsLine, parseGlideinConfig, publishAttributes } from '../../agent/validate/glidein-config.ts';
import type { ValidationReport } from '../../agent/validate/types.ts';
import { runCli } from '../helpers/run-cli.ts';

/** error_augment.sh's test of a custom script's otrb_output.xml, given the script's exit code. */
function augmentKeeps(doc: string, rc: number): boolean {
  const lines = doc.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const statusLines = lines.filter((l) => l.includes('<status>'));
  return (
    lines.slice(0, 4).some((l) => l.includes('<OSGTestResult ')) &&
    lines.slice(0, 8).some((l) => l.includes('<result>')) &&
    lines.slice(-4).some((l) => l.includes('</OSGTestResult>')) &&
    lines.some((l) => l.includes('</result>')) &&
    statusLines.length > 0 &&
    (rc === 0 ? statusLines.some((l) => l.includes('OK')) : !statusLines.some((l) => l.includes('OK')))
  );
}

/** What glidein_startup.sh carries to the factory: every line holding `<metric `, and the lines between `<detail>` and `</detail>`. */
function carried(doc: string): { metrics: [string, string][]; detail: string[] } {
  const lines = doc.split('\n');
  const metricLines = lines.filter((l) => l.includes('<metric '));
  const script = `import sys, json, xml.etree.ElementTree as ET
print(json.dumps([[e.get("name"), e.text or ""] for e in (ET.fromstring(l) for l in json.load(sys.stdin))]))`;
  const out = spawnSync('python3', ['-c', script], { input: JSON.stringify(metricLines) });
  if (out.status !== 0) throw new Error(`a metric line does not parse on its own: ${out.stderr}`);
  const from = lines.findIndex((l) => l.includes('<detail>'));
  const to = lines.findIndex((l) => l.includes('</detail>'));
  return { metrics: JSON.parse(out.stdout.toString()), detail: from >= 0 && to > from ? lines.slice(from + 1, to) : [] };
}

const failed: ValidationReport = {
  status: 'ERROR',
  durationMs: 40,
  checks: [
    { name: 'cores', status: 'fail', value: 2, required: 64, detail: '2 usable of 2 (affinity), 64 required', failure: 'WN_Resource' },
    { name: 'disk', status: 'fail', value: 1, required: 2, detail: 'line one\nline <two> & </detail>', failure: 'WN_Resource' },
  ],
  attributes: { GLIDEIN_CPUS: 2, HAS_SINGULARITY: false, GLIDEIN_OS_DISTRO: 'rocky 9.4', GLIDEIN_X: 'a\nb </metric> <status>OK</status>' },
};
const ok: ValidationReport = { status: 'OK', durationMs: 40, checks: [{ ...failed.checks[0]!, status: 'pass', failure: null }], attributes: { GLIDEIN_CPUS: 2 } };

// The layout glidein wrote before issue 24: the operating environment and the test first, `<result>` on line 14.
const OLD_LAYOUT = ['<?xml version="1.0"?>', '<OSGTestResult id="glidein_validate" version="4.3.1">', '  <operatingenvironment>',
  ...['user', 'arch', 'hostname', 'cwd'].map((n) => `    <env name="${n}">x</env>`), '  </operatingenvironment>', '  <test>', '    <cmd>glidein validate</cmd>',
  '    <tStart>t</tStart>', '    <tEnd>t</tEnd>', '  </test>', '  <result>', '    <status>ERROR</status>', '  </result>', '</OSGTestResult>', ''].join('\n');

describe('the XML a GlideinWMS custom script hands error_augment.sh', () => {
  it.each([
    ['glidein --format xml, failed, exit 1', 1, true, formatXml(failed)],
    ['glidein otrb_output.xml (no envelope), failed, exit 1', 1, true, formatXml(failed, { envelope: false })],
    ['glidein --format xml, OK, exit 0', 0, true, formatXml(ok)],
    ['glidein otrb_output.xml, OK, exit 0', 0, true, formatXml(ok, { envelope: false })],
    ['an OK document from a script that exited 1', 1, false, formatXml(ok)],
    ['an ERROR document from a script that exited 0', 0, false, formatXml(failed)],
    ['the layout before issue 24 (<result> on line 14)', 1, false, OLD_LAYOUT],
    ['a document cut before its footer', 1, false, formatXml(failed).split('\n').slice(0, 6).join('\n')],
  ])('%s: exit %i, kept %s', (_name, rc, kept, doc) => {
    expect(augmentKeeps(doc, rc)).toBe(kept);
  });

  it.each([[true], [false]])('envelope %s: the status, the failure category, TestID and every metric survive, one line each', (envelope) => {
    const doc = formatXml(failed, { envelope });
    const { metrics, detail } = carried(doc);
    expect(metrics).toEqual([
      ['failure', 'WN_Resource'],
      ['TestID', 'cores'],
      ['GLIDEIN_CPUS', '2'],
      ['HAS_SINGULARITY', 'False'],
      ['GLIDEIN_OS_DISTRO', 'rocky 9.4'],
      ['GLIDEIN_X', 'a\nb </metric> <status>OK</status>'],
    ]);
    expect(detail.map((l) => l.trim())).toEqual(['cores: fail: 2 usable of 2 (affinity), 64 required', 'disk: fail: line one', 'line &lt;two&gt; &amp; &lt;/detail&gt;']);
    expect(doc.includes('<operatingenvironment>')).toBe(envelope);
  });
});

describe('glidein_config and condor_vars as add_config_line.source and condor_startup.sh read them', () => {
  it.each([
    ['KEY value', 'KEY', 'value'],
    ['KEY two words  kept', 'KEY', 'two words  kept'],
    ['KEY first\nKEY second', 'KEY', 'second'],
    ['KEY ', 'KEY', ''],
    ['KEY', 'KEY', undefined],
    [' KEY value', 'KEY', undefined],
    ['# --- User Parameters ---\nKEY v', 'KEY', 'v'],
  ])('%j: %s is %j', (text, key, value) => {
    expect(parseGlideinConfig(text).get(key)).toBe(value);
  });

  it.each([
    ['GLIDEIN_CPUS', 8, 'GLIDEIN_CPUS I - + N Y -', '8'],
    ['HAS_SINGULARITY', true, 'HAS_SINGULARITY C - + N Y -', 'True'],
    ['GPUs_Capability', 8.6, 'GPUs_Capability C - + N Y -', '8.6'],
    ['GLIDEIN_OS_DISTRO', 'rocky 9.4', 'GLIDEIN_OS_DISTRO S - + N Y -', 'rocky 9.4'],
    ['GLIDEIN_X', `a'b"c\\d$(e)\nf`, 'GLIDEIN_X S - + N Y -', 'a_b_c_d_(e)_f'],
  ])('%s = %j: condor_vars line %j, value %j', (name, value, line, text) => {
    expect(condorVarsLine(name, value)).toBe(line);
    expect(condorSafeValue(value)).toBe(text);
  });
});

function glideinDir(config: string, vars: string): { dir: string; config: string; vars: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gwms-'));
  writeFileSync(join(dir, 'condor_vars.lst'), vars);
  writeFileSync(join(dir, 'glidein_config'), config.replace('@VARS@', join(dir, 'condor_vars.lst')));
  return { dir, config: join(dir, 'glidein_config'), vars: join(dir, 'condor_vars.lst') };
}

describe('publishing the attributes', () => {
  const base = '# --- glidein_startup vals ---\nGLIDEIN_Factory f\nCONDOR_VARS_FILE @VARS@\n';
  const gwmsVars = '# VarName Type Default CondorName Req. ExportCondor UserJobEnvName\nGLIDEIN_CPUS\t\tC\t1\t\t+\t\t\t\tN\tN\t@\n';

  it('appends new names to both files, leaves what GlideinWMS set and HTCondor\'s GPU names alone, and replaces its own earlier lines', async () => {
    const g = glideinDir(`${base}HAS_SINGULARITY True\nGLIDEIN_OS_DISTRO centos 7\n`, `${gwmsVars}GLIDEIN_OS_DISTRO S - + N Y -\n`);
    chmodSync(g.config, 0o640);
    const r = await publishAttributes(g.config, {
      GLIDEIN_CPUS: 2, HAS_SINGULARITY: false, GLIDEIN_OS_DISTRO: 'rocky 9.4', GLIDEIN_DISK_FREE_MB: 100, DetectedGPUs: 0, GPUs_DeviceName: 'x', 'bad name': 1,
    });
    expect(r.published).toEqual(['GLIDEIN_OS_DISTRO', 'GLIDEIN_DISK_FREE_MB']);
    expect(r.skipped).toEqual(['GLIDEIN_CPUS', 'HAS_SINGULARITY', 'DetectedGPUs', 'GPUs_DeviceName', 'bad name']);
    expect(readFileSync(g.config, 'utf8')).toBe(`${base.replace('@VARS@', g.vars)}HAS_SINGULARITY True\nGLIDEIN_OS_DISTRO rocky 9.4\nGLIDEIN_DISK_FREE_MB 100\n`);
    expect(readFileSync(g.vars, 'utf8')).toBe(`${gwmsVars}GLIDEIN_OS_DISTRO S - + N Y -\nGLIDEIN_DISK_FREE_MB I - + N Y -\n`);
    expect(statSync(g.config).mode & 0o777).toBe(0o640);
  });

  it('without CONDOR_VARS_FILE only glidein_config is written', async () => {
    const g = glideinDir('GLIDEIN_Factory f\n', '');
    const r = await publishAttributes(g.config, { GLIDEIN_ARCH: 'x86_64' });
    expect(r).toEqual({ published: ['GLIDEIN_ARCH'], skipped: [], condorVarsFile: null });
    expect(readFileSync(g.config, 'utf8')).toBe('GLIDEIN_Factory f\nGLIDEIN_ARCH x86_64\n');
  });
});

describe('glidein as GlideinWMS runs a custom script: SCRIPT glidein_config ENTRY_ID in the glidein\'s dir', () => {
  const script = (dir: string) => runCli(['glidein_config', 'main'], { source: true, cwd: dir });

  it.each([
    ['a requirement the node misses', 'cores=100000', 1, 'WN_Resource', 'cores'],
    ['a requirement glidein cannot read', 'cores=many', 1, 'Config', 'config'],
    ['requirements met', 'memory=1MiB disk=1MiB', 0, null, null],
    ['no requirement', '', 0, null, null],
  ])('%s (%j): exit %s, otrb_output.xml kept with failure %s and TestID %s', async (_name, require, code, failure, testId) => {
    const g = glideinDir(`${'GLIDEIN_Factory f\nCONDOR_VARS_FILE @VARS@\n'}GLIDEIN_VALIDATE_REQUIRE ${require}\n`, '# vars\n');
    const r = await script(g.dir);
    expect(r.code, r.stderr).toBe(code);
    const doc = readFileSync(join(g.dir, 'otrb_output.xml'), 'utf8');
    expect(augmentKeeps(doc, code)).toBe(true);
    const metrics = Object.fromEntries(carried(doc).metrics);
    expect(metrics.failure).toBe(failure ?? undefined);
    expect(metrics.TestID).toBe(testId ?? undefined);
    if (failure !== 'Config') {
      expect(metrics.GLIDEIN_TMP_WRITABLE).toBe('True');
      expect(parseGlideinConfig(readFileSync(g.config, 'utf8')).get('GLIDEIN_TMP_WRITABLE')).toBe('True');
      expect(readFileSync(g.vars, 'utf8')).toContain('\nGLIDEIN_TMP_WRITABLE C - + N Y -\n');
    }
  });
});
