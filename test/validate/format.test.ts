import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { formatClassad, formatJson, formatTable, formatXml } from '../../agent/validate/index.ts';
import type { ValidationReport } from '../../agent/validate/types.ts';

const failed: ValidationReport = {
  status: 'ERROR',
  durationMs: 84,
  checks: [
    { name: 'cores', status: 'pass', value: 8, required: 4, detail: '8 usable of 64 (cgroup v2 quota 8 CPUs)', failure: null },
    { name: 'disk', status: 'fail', value: 1024, required: 2e9, detail: 'Cannot create a dir in /tmp: <EACCES> & "more"', failure: 'WN_Resource' },
    { name: 'cvmfs', status: 'fail', value: [], required: ['cms.cern.ch'], detail: 'cms.cern.ch: not mounted', failure: 'WN_Resource' },
  ],
  attributes: { GLIDEIN_CPUS: 8, HAS_SINGULARITY: false, GWMS_SINGULARITY_VERSION: 'apptainer "1.3"\\x', GPUs_Capability: 8.6 },
};
const ok: ValidationReport = { ...failed, status: 'OK', checks: [failed.checks[0]!] };

/** Parse with a real XML parser (Python's ElementTree) and return what GlideinWMS would read. */
function parseXml(xml: string): { root: string; version: string; status: string; metrics: Record<string, string>; env: Record<string, string>; detail: string } {
  const script = `
import sys, json, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read())
print(json.dumps({"root": r.tag, "version": r.get("version"), "status": r.find("result/status").text,
  "metrics": {m.get("name"): m.text for m in r.findall("result/metric")},
  "env": {e.get("name"): e.text for e in r.findall("operatingenvironment/env")},
  "detail": r.find("detail").text, "ts": [m.get("ts") for m in r.findall("result/metric")],
  "tStart": r.find("test/tStart").text}))`;
  const out = spawnSync('python3', ['-c', script], { input: xml });
  if (out.status !== 0) throw new Error(`XML did not parse: ${out.stderr}`);
  return JSON.parse(out.stdout.toString());
}

describe('formats', () => {
  it('json is exactly the contract object', () => {
    const parsed = JSON.parse(formatJson({ ...failed, extra: 1 } as ValidationReport));
    expect(Object.keys(parsed)).toEqual(['status', 'durationMs', 'checks', 'attributes']);
    for (const c of parsed.checks) expect(Object.keys(c)).toEqual(['name', 'status', 'value', 'required', 'detail', 'failure']);
    expect(parsed.checks[1]).toEqual(failed.checks[1]);
  });

  it('classad lines are NAME = literal with booleans, numbers and escaped strings', () => {
    const lines = formatClassad(failed).trimEnd().split('\n');
    expect(lines).toEqual([
      'GLIDEIN_CPUS = 8',
      'HAS_SINGULARITY = False',
      'GWMS_SINGULARITY_VERSION = "apptainer \\"1.3\\"\\\\x"',
      'GPUs_Capability = 8.6',
    ]);
    for (const l of lines) expect(l).toMatch(/^[A-Za-z_]\w* = (True|False|-?\d+(\.\d+)?|"(?:[^"\\]|\\.)*")$/);
  });

  it('xml is an OSGTestResult 4.3.1 that a real parser reads, with the failure category and the failing check', () => {
    const end = new Date('2026-11-22T13:00:11.500Z');
    const doc = parseXml(formatXml(failed, { end, hostname: 'wn042', user: 'pilot', cwd: '/scratch/<x>', clientName: 'fe', clientGroup: 'main' }));
    expect(doc).toMatchObject({ root: 'OSGTestResult', version: '4.3.1', status: 'ERROR' });
    expect(doc.metrics).toMatchObject({ failure: 'WN_Resource', TestID: 'disk', GLIDEIN_CPUS: '8', HAS_SINGULARITY: 'False' });
    expect(doc.env).toMatchObject({ client_name: 'fe', client_group: 'main', user: 'pilot', hostname: 'wn042', cwd: '/scratch/<x>' });
    expect(doc.detail).toContain('disk: fail: Cannot create a dir in /tmp: <EACCES> & "more"');
    expect(doc.detail).toContain('cvmfs: fail');
    expect(doc).toMatchObject({ ts: expect.arrayContaining(['2026-11-22T13:00:11+00:00']), tStart: '2026-11-22T13:00:11+00:00' });
  });

  it('xml on success says OK with the metrics and no failure', () => {
    const doc = parseXml(formatXml(ok));
    expect(doc.status).toBe('OK');
    expect(doc.metrics.failure).toBeUndefined();
    expect(doc.metrics.GLIDEIN_CPUS).toBe('8');
  });

  it('xml drops every character XML 1.0 forbids (controls, lone surrogates, U+FFFE, U+FFFF) and keeps the rest', () => {
    // The lone surrogates sit apart, so they never pair up into a valid character.
    const forbidden = '\u0000\u0001\u0008\u000B\u000C\u000E\u001F\uDFFF\uFFFE\uFFFF\uD800';
    const kept = 'tab\there \u0085 \u00E9 \uD83D\uDE00 \uFFFD \uE000';
    const report: ValidationReport = {
      ...failed,
      checks: [{ ...failed.checks[1]!, detail: `${forbidden}${kept}${forbidden}` }],
      attributes: { [`GLIDEIN_X${forbidden}`]: `v${forbidden}${kept}` },
    };
    const doc = parseXml(formatXml(report, { cwd: `/scratch/${forbidden}x`, cmd: `glidein ${forbidden}validate` }));
    expect(doc.detail.trim()).toBe(`disk: fail: ${kept}`);
    expect(doc.metrics.TestID).toBe('disk');
    expect(doc.metrics.GLIDEIN_X).toBe(`v${kept}`);
    expect(doc.env.cwd).toBe('/scratch/x');
  });

  it('the table has a header, one row per check with its time, and the outcome', () => {
    const text = formatTable(failed, { cores: 3, disk: 12 });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+VALUE\s+REQUIRED\s+TIME\s+DETAIL$/);
    expect(lines[1]).toMatch(/^cores\s+PASS\s+8\s+4\s+3ms\s+8 usable of 64/);
    expect(lines[2]).toMatch(/^disk\s+FAIL\s+1 KiB\s+1.9 GiB\s+12ms\s+Cannot create/);
    expect(lines.at(-1)).toBe('ERROR: disk (WN_Resource), cvmfs (WN_Resource) failed in 84 ms');
  });
});
