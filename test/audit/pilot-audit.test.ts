// The site's audit records from a real pilot (issue 25): `glidein run` against the real refresh
// service, as root in setuid mode with a real account: a spool job's records name the pilot
// (glidein id, entry, factory, batch job id), the status report says how the records fared,
// and `-- COMMAND` gets its start and end too.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pilotScenarios, startAgent } from '../fixtures/pilot/agent.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { createDemoSite } from '../../agent/pilot/demo-site.ts';
import { parseAuditLine, type AuditRecord } from '../../agent/audit/audit-record.ts';

const scenarios = pilotScenarios();
const ACCOUNT = 'glaudpilot';
afterAll(async () => {
  if (IS_ROOT) removeAccount(ACCOUNT);
  await scenarios.cleanup();
});

function records(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => parseAuditLine(l)!);
}

function lastStatus(stateDir: string, glideinId: string): Record<string, unknown> {
  const db = new DatabaseSync(join(stateDir, 'state.db'), { readOnly: true });
  try {
    const row = db.prepare('SELECT status_report FROM families WHERE glidein_id = ?').get(glideinId) as { status_report: string };
    return JSON.parse(row.status_report) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

describe('audit records from glidein run', () => {
  it.runIf(IS_ROOT).concurrent('a spool job is recorded with the pilot that ran it, and the status report counts the records', async () => {
    const account = ensureAccount(ACCOUNT);
    const { s, dir, work } = await scenarios.setup(60);
    chmodSync(dir, 0o711);
    const bundle = await s.bundlePath('g-audit-spool');
    const siteDir = join(dir, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: 'setuid', accounts: { alice: ACCOUNT } });
    const file = join(dir, 'audit', 'audit.log');
    const policy = JSON.parse(readFileSync(site.policyPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(site.policyPath, JSON.stringify({ ...policy, audit: { syslog: false, file } }));
    const outDir = join(dir, 'out');
    mkdirSync(outDir, { mode: 0o700 });
    chownSync(outDir, account.uid, account.gid);
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    writeFileSync(join(spool, 'job1.json'), JSON.stringify({ id: 'job1', executable: '/bin/sh', args: ['-c', 'echo $$ > pid'], cwd: outDir, identity: await site.identityToken('alice', 600) }));
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--spool', spool, '--policy', site.policyPath, '--idle-timeout', '2', '--failure-delay', '0'], { SLURM_JOB_ID: '4711' }).done;
    expect(r.code, r.stderr).toBe(0);
    const pilot = { glideinId: 'g-audit-spool', entry: 'TEST_ENTRY', factory: new URL(s.url).origin, batchJob: 'slurm:4711' };
    const result = readFileSync(join(spool, 'job1.result.json'), 'utf8');
    expect(JSON.parse(result), result).toMatchObject({ state: 'completed' });
    const [start, end] = records(file);
    expect(start).toMatchObject({ event: 'start', source: 'spool', job: 'job1', pilot, sub: 'alice', account: ACCOUNT, uid: account.uid, pid: Number(readFileSync(join(outDir, 'pid'), 'utf8')) });
    expect(end).toMatchObject({ event: 'end', source: 'spool', job: 'job1', pilot, state: 'completed', run: start!.run });
    expect(lastStatus(s.stateDir, 'g-audit-spool')).toMatchObject({ audit: { written: 2, failed: 0, problem: null } });
  }, 90_000);

  it.concurrent('-- COMMAND gets a start and an end record with the pilot and the process group', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-audit-cmd');
    const file = join(dir, 'audit', 'audit.log');
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ audit: { file } }));
    const pidFile = join(dir, 'pid');
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--policy', policy, '--failure-delay', '0', '--', '/bin/sh', '-c', `echo $$ > ${pidFile}; exit 3`]).done;
    expect(r.code, r.stderr).toBe(1);
    const [start, end, ...rest] = records(file);
    expect(rest).toEqual([]);
    const who = { job: 'command', source: 'command', pilot: { glideinId: 'g-audit-cmd', entry: 'TEST_ENTRY' }, mode: 'none', uid: process.getuid!(), pid: Number(readFileSync(pidFile, 'utf8')), executable: '/bin/sh' };
    expect(start).toMatchObject({ event: 'start', ...who });
    expect(end).toMatchObject({ event: 'end', ...who, state: 'failed', why: 'failed', exitCode: 3, run: start!.run });
  }, 90_000);

  it.concurrent('an audit file the pilot cannot write is reported in the status report, and the job still runs (audit not required)', async () => {
    const { s, dir, work } = await scenarios.setup(60);
    const bundle = await s.bundlePath('g-audit-bad');
    const badDir = join(dir, 'open');
    mkdirSync(badDir);
    chmodSync(badDir, 0o777);
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ audit: { file: join(badDir, 'audit.log') } }));
    const r = await startAgent(['--bundle', bundle, '--workdir', work, '--policy', policy, '--failure-delay', '0', '--', '/bin/true']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('site audit record not written');
    const status = lastStatus(s.stateDir, 'g-audit-bad');
    expect(status).toMatchObject({ audit: { written: 0, failed: 2 } });
    expect((status['audit'] as { problem: string }).problem).toMatch(/writable by group or others/);
  }, 90_000);
});
